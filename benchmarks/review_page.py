"""How long reviewing 100 projection pairs takes on the review page with the keyboard.

Builds a store with ``--faces`` projected faces (small synthetic pictures), serves the review page, and drives
Debian's chromium with Playwright: for each face it waits until the three pictures are shown, then presses
``a`` or ``r``; finally it submits. Prints the wall time and the time per face. This is the page's own latency
(what a reviewer waits for between key presses), not a person's thinking time, which adds to it.

Usage: .venv/bin/python benchmarks/review_page.py [--faces 100]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from elt_review.review_app import create_app  # noqa: E402
from tests.flows.review_chain import review_store  # noqa: E402

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOADED = "['original','aligned','projected'].every(k => document.getElementById('img-' + k).complete)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = review_store(Path(tmp) / "store", n=args.faces)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(store=store.url, resume=False), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 620})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#meta b")
            page.fill("#reviewer", "benchmark")
            page.locator("#reviewer").blur()
            started = time.perf_counter()
            for i in range(args.faces):
                page.wait_for_function(LOADED)
                page.keyboard.press("r" if i % 7 == 0 else "a")
            page.click("#submit")
            page.wait_for_function("document.getElementById('status').textContent.includes('saved')")
            elapsed = time.perf_counter() - started
            print(page.inner_text("#status"))
            browser.close()
        server.should_exit = True
    print(
        f"{args.faces} pairs reviewed and submitted in {elapsed:.1f} s ({1000 * elapsed / args.faces:.0f} ms per "
        f"pair of page latency)"
    )


if __name__ == "__main__":
    main()
