"""A loopback HTTP server for download tests: Range support, a cut-off mode and a Google-Drive-like page."""

from __future__ import annotations

import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Loopback:
    """A tiny HTTP server on 127.0.0.1: Range support, a cut-off mode and a Google-Drive-like page."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path.startswith("/uc?"):
                    page = (
                        b'<html><form id="download-form" action="/usercontent/download" method="get">'
                        b'<input type="hidden" name="id" value="big"><input type="hidden" name="confirm" value="t">'
                        b"</form></html>"
                    )
                    return self._send(200, page, "text/html")
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                if self.path.startswith("/usercontent/download"):
                    name = "big.tar.gz"
                if name not in server.files:
                    return self._send(404, b"not found", "text/plain")
                data = server.files[name]
                start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
                if start >= len(data) and start:
                    return self._send(416, b"", "text/plain")
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if name in server.cut_once:
                    server.cut_once.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def tar_dir(root: Path, folder: str) -> bytes:
    """A .tar.gz of ``root/folder`` with ``folder`` as the top-level member."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(root / folder, arcname=folder)
    return buffer.getvalue()


def tar_members(members: dict[str, bytes]) -> bytes:
    """A .tar.gz holding ``members`` (archive path -> content), made in memory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
