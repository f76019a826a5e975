"""The review page in a real headless browser (Debian's chromium driven by Playwright): review faces with the
keyboard, use the bulk action, submit, and see the paused flow run resume with exactly those decisions."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tasks.decisions import ReviewGateConfig, read_decisions
from tests.flows.gate import gate_in_thread, paused_gate_run, state_of
from tests.flows.review_chain import review_store
from tests.flows.server import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def test_keyboard_and_bulk_review_then_submit_resumes_the_run(prefect_harness, wait_until, tmp_path):
    import uvicorn

    from elt_review.review_app import create_app

    store, projected = review_store(tmp_path / "store")
    result = []
    runner = gate_in_thread(store.url, projected, ReviewGateConfig(policy="human", timeout_s=300), result)
    run = wait_until(lambda: paused_gate_run(store.url), what="the gate run to pause")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store=store.url, token="s3cret"), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, timeout=30, what="the page's server to start")
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
            page = browser.new_page(viewport={"width": 1100, "height": 620})
            assert page.goto(f"http://127.0.0.1:{port}/").status == 403  # the token is required
            page.goto(f"http://127.0.0.1:{port}/?token=s3cret")
            page.wait_for_selector("#meta b")
            assert page.inner_text("#progress") == "0 / 5 decided"
            cells = page.locator("#grid .cell")
            assert cells.all_inner_texts() == ["0.1", "0.15", "0.2", "0.25", "0.3"]  # lowest LPIPS first
            assert _classes(cells.nth(0)) == {"cell", "current"}
            page.fill("#reviewer", "dora")
            page.locator("#reviewer").blur()  # keys typed into a text field are not decisions
            page.keyboard.press("a")  # p0: accept
            page.keyboard.press("x")  # p1: reject
            page.keyboard.press("ArrowLeft")  # back to p1 ...
            page.keyboard.press("a")  # ... and accept it after all
            assert page.inner_text("#progress") == "2 / 5 decided"
            page.fill("#bulk", "0.26")
            assert page.inner_text("#preview") == "4 face(s)"  # LPIPS 0.10, 0.15, 0.20, 0.25
            page.click("#bulk-apply")
            bulk = [{"cell", "current", "accept"}, {"cell", "accept"}, {"cell"}]
            assert [_classes(cells.nth(i)) for i in (2, 3, 4)] == bulk
            cells.nth(4).click()  # jump to p4 (LPIPS 0.30) ...
            assert page.inner_text("#meta b >> nth=0") == "5"
            page.keyboard.press("r")  # ... and reject it
            assert page.inner_text("#progress") == "5 / 5 decided"
            assert _classes(cells.nth(4)) == {"cell", "current", "reject"}
            assert _classes(cells.nth(1)) == {"cell", "accept"}
            page.wait_for_function("document.getElementById('img-projected').complete")
            page.screenshot(path=str(tmp_path / "review_page.png"))
            page.click("#submit")
            page.wait_for_function("document.getElementById('status').textContent.includes('saved')")
            assert "saved 5 decision(s); resumed 1 flow run(s)" in page.inner_text("#status")
            # nothing pending now: the page says why and shows the decisions read-only
            assert page.is_visible("#empty") and not page.is_visible("#grid")
            why = page.inner_text("#why")
            assert "5 projected face(s) already have a decision (4 accepted, 1 rejected)" in why
            assert "discarded 0" in why and "Decided by: human" in why
            assert page.locator("#grid-decided .cell.reject").count() == 1
            assert page.locator("#grid-decided .cell.accept").count() == 4
            browser.close()
    finally:
        server.should_exit = True
    runner.join(timeout=120)
    assert result and state_of(run.id).is_completed()
    decided = read_decisions(store).set_index("face_id")
    assert dict(decided["decision"]) == {
        "p0.png#0": "accept",
        "p1.png#0": "accept",
        "p2.png#0": "accept",
        "p3.png#0": "accept",
        "p4.png#0": "reject",
    }
    assert set(decided["reviewer"]) == {"dora"} and len(read_decisions(store, history=True)) == 5
    outcome = result[0].output().manifest()
    assert outcome["status"].tolist() == ["accepted"] * 4 + ["rejected"]
    assert (tmp_path / "review_page.png").stat().st_size > 10_000


def test_a_face_id_holding_markup_is_shown_as_text(wait_until, tmp_path):
    import uvicorn

    from elt_review.review_app import create_app

    markup = "<img src=x onerror=\"document.title='pwned'\">"
    store, _ = review_store(tmp_path / "store", n=2, prefix=markup)
    port = free_port()
    app = create_app(store=store.url, token="s3cret", resume=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, timeout=30, what="the page's server to start")
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/?token=s3cret")
            page.wait_for_selector("#meta code")
            page.wait_for_timeout(300)  # time for an injected handler to fire, were there one
            assert page.inner_text("#meta code") == f"{markup}0.png#0"
            assert page.title() != "pwned" and page.locator("#meta img").count() == 0
            browser.close()
    finally:
        server.should_exit = True


def _classes(locator) -> set[str]:
    return set(locator.get_attribute("class").split())


def _serve(store, wait_until):
    import uvicorn

    from elt_review.review_app import create_app

    port = free_port()
    app = create_app(store=store.url, token="s3cret", resume=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, timeout=30, what="the page's server to start")
    return server, f"http://127.0.0.1:{port}/?token=s3cret"


def test_a_thousand_faces_come_as_a_sorted_grid_of_lazily_loaded_thumbnails(wait_until, tmp_path):
    store, _ = review_store(tmp_path / "store", n=1000, shuffled=True)
    server, url = _serve(store, wait_until)
    thumbs = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("request", lambda r: thumbs.append(r.url) if "/img/thumb/" in r.url else None)
            page.goto(url)
            page.wait_for_selector("#meta b")
            page.wait_for_function("document.getElementById('img-projected').complete")
            assert page.inner_text("#progress") == "0 / 1000 decided"
            captions = [float(t) for t in page.locator("#grid .cell figcaption").all_inner_texts()]
            assert len(captions) == 1000 and captions == sorted(captions) and captions[0] == 0.1
            page.wait_for_timeout(300)
            assert 0 < len(thumbs) < 300  # only the thumbnails near the view are fetched
            for _ in range(40):
                page.keyboard.press("a")
            assert page.inner_text("#progress") == "40 / 1000 decided"
            assert page.locator("#grid .cell.accept").count() == 40
            in_view = "(() => { const r = document.querySelector('.cell.current').getBoundingClientRect();"
            assert page.evaluate(in_view + " return r.top >= 0 && r.bottom <= innerHeight + 1; })()")
            browser.close()
    finally:
        server.should_exit = True


def test_with_nothing_pending_the_page_says_the_policy_decided_and_shows_it_read_only(wait_until, tmp_path):
    from tasks.decisions import append_decisions, auto_decisions
    from tasks.review_catalog import review_catalog

    store, _ = review_store(tmp_path / "store", n=6, shuffled=True, discarded=2)
    append_decisions(store, auto_decisions(review_catalog(store), threshold=0.2))
    server, url = _serve(store, wait_until)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#why:not(:empty)")
            assert page.inner_text("#progress") == "nothing to review"
            why = page.inner_text("#why")
            assert "4 projected face(s) already have a decision" in why and "discarded 2" in why
            assert "decided automatically: auto (lpips <= 0.2)" in why
            decided = page.locator("#grid-decided .cell")
            lpips = [float(t) for t in decided.all_inner_texts()]
            assert len(lpips) == 4 and lpips == sorted(lpips)
            accepted = page.locator("#grid-decided .cell.accept").count()
            assert accepted == sum(v <= 0.2 for v in lpips)
            page.keyboard.press("r")  # read-only: a key decides nothing
            assert page.locator("#grid-decided .cell.accept").count() == accepted
            assert not page.is_visible("#review")
            browser.close()
    finally:
        server.should_exit = True
    assert len(read_decisions(store, history=True)) == 4
