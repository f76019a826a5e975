"""The review page with many faces, timed in chromium: first face shown, whole grid listed, latency per key.

Builds a store of ``--faces`` projected faces whose aligned and projected pictures are 1024x1024 PNGs like the
study's (flat synthetic pictures stand in for faces), serves the review page and drives Debian's chromium with
Playwright. Prints the time from opening the page to the first face's three pictures shown, to the grid holding
every face, and the mean latency of a key press (until the next face's pictures are shown) over 50 presses.
``benchmarks/scale.py`` calls ``time_review_page`` with the number of faces the filter kept at each size.

Usage: .venv/bin/python benchmarks/review_timing.py [--faces 1000]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-quic"]
SHOWN = (
    "['original','aligned','projected']"
    ".every(k => { const i = document.getElementById('img-' + k); return i.src && i.complete; })"
)
KEYS = 50


def _serve(store_url: str):
    import uvicorn

    from elt_review.review_app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(store=store_url, token="bench", resume=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}/?token=bench"


def time_review_page(*, faces: int, root: Path, side: int = 1024) -> dict:
    """Open the review page over ``faces`` projected faces and time it.

    Returns:
        ``faces``, ``first_face_s`` (opening to the first face's pictures shown), ``list_s`` (opening to every
        face in the grid), ``key_ms`` (mean key press to the next face shown), ``build_s`` (making the store).
    """
    from playwright.sync_api import sync_playwright

    from tests.flows.review_chain import review_store

    began = time.perf_counter()
    store, _ = review_store(root, n=faces, shuffled=True, side=side)
    build = time.perf_counter() - began
    server, url = _serve(store.url)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_function(SHOWN, polling=10)
            first = time.perf_counter() - began
            page.wait_for_function(f"document.querySelectorAll('#grid .cell').length === {faces}", polling=10)
            listed = time.perf_counter() - began
            began = time.perf_counter()
            for _ in range(min(KEYS, faces - 1)):
                page.keyboard.press("a")
                page.wait_for_function(SHOWN, polling=5)
            key = (time.perf_counter() - began) / max(1, min(KEYS, faces - 1))
            browser.close()
    finally:
        server.should_exit = True
    return {"faces": faces, "first_face_s": first, "list_s": listed, "key_ms": 1000 * key, "build_s": build}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = time_review_page(faces=args.faces, root=Path(tmp) / "store")
    print(
        f"{result['faces']} faces: first face shown {result['first_face_s']:.2f} s after opening the page "
        f"(goal <= 1 s), the whole grid listed at {result['list_s']:.2f} s, "
        f"{result['key_ms']:.0f} ms per key press to the next face"
    )


if __name__ == "__main__":
    main()
