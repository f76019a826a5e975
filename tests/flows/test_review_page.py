"""The review page in a real headless browser (Debian's chromium driven by Playwright): review faces with the
keyboard, use the bulk action, submit, and see the paused flow run resume with exactly those decisions."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from tasks.prefect_stages import StageRef

from tasks.review import ReviewPolicy, read_decisions
from tasks.stage import StageResult, StageSpec, Store, run_stage
from tests.flows.test_review_gate import _runs, _state, _wait_for, gate_flow, harness  # noqa: F401

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def review_store(root: Path, n: int = 5) -> tuple[Store, StageRef]:
    """A store with the chain the page reads: dataset and index, filter (aligned faces), project."""
    import cv2
    import numpy as np

    store = Store(root)

    def stage(name, params, compute, inputs=None):
        spec = StageSpec(name=name, version=1, modules=("tasks.review",))
        return run_stage(store=store, spec=spec, params=params, inputs=inputs or {}, compute=compute)[0]

    def dataset(work):
        (work / "wflw").mkdir()
        for i in range(n):
            cv2.imwrite(str(work / "wflw" / f"p{i}.png"), np.full((80, 80, 3), (40 * i) % 256, np.uint8))
        return StageResult(manifest=pd.DataFrame({"path": [f"p{i}.png" for i in range(n)]}))

    ds = stage("synth_wflw", {"n": n}, dataset)
    flags = {
        f: [i % 2 for i in range(n)] for f in ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
    }
    index = stage(
        "index_wflw",
        {"n": n},
        lambda w: StageResult(manifest=pd.DataFrame({"face_id": [f"f{i}" for i in range(n)], **flags})),
    )

    def aligned(work):
        (work / "aligned").mkdir()
        for i in range(n):
            cv2.imwrite(str(work / "aligned" / f"a{i}.png"), np.full((64, 64, 3), (30 * i) % 256, np.uint8))
        return StageResult(
            manifest=pd.DataFrame(
                {
                    "detection_id": [f"p{i}.png#0" for i in range(n)],
                    "image_path": [f"p{i}.png" for i in range(n)],
                    "det_box": [[10.0, 10.0, 60.0, 60.0]] * n,
                    "wflw_face_id": [f"f{i}" for i in range(n)],
                    "aligned_path": [f"aligned/a{i}.png" for i in range(n)],
                }
            )
        )

    filtered = stage("filter", {"n": n}, aligned, {"dataset": ds, "index": index})

    def projections(work):
        (work / "projections").mkdir()
        for i in range(n):
            cv2.imwrite(str(work / "projections" / f"q{i}.png"), np.full((32, 32, 3), (25 * i) % 256, np.uint8))
        return StageResult(
            manifest=pd.DataFrame(
                {
                    "detection_id": [f"p{i}.png#0" for i in range(n)],
                    "wflw_face_id": [f"f{i}" for i in range(n)],
                    "discarded": [False] * n,
                    "lpips": [0.1 + 0.05 * i for i in range(n)],
                    "loss_at_discard_step": [0.5] * n,
                    "image_path": [f"projections/q{i}.png" for i in range(n)],
                }
            )
        )

    projected = stage("project", {"n": n}, projections, {"filtered": filtered})
    return store, StageRef.of(projected)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_review_with_the_keyboard_and_the_bulk_action_then_submit_resumes_the_run(harness, tmp_path):  # noqa: F811
    import uvicorn

    from flows.review_app import create_app

    store, projected = review_store(tmp_path / "store")
    result = []
    runner = threading.Thread(
        target=lambda: result.append(gate_flow(store.url, projected, ReviewPolicy(policy="human", timeout_s=300)))
    )
    runner.start()
    run = _wait_for(lambda: next((r for r in _runs() if r.state.is_paused()), None))

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store=store.url, token="s3cret"), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    _wait_for(lambda: server.started, timeout=30)
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
            page.keyboard.press("ArrowRight")  # p2 (already accepted by the bulk action) ...
            page.keyboard.press("a")  # ... p3 too
            page.keyboard.press("r")  # p4 (LPIPS 0.30): reject
            assert page.inner_text("#progress") == "5 / 5 decided"
            page.wait_for_function("document.getElementById('img-projected').complete")
            page.screenshot(path=str(tmp_path / "review_page.png"))
            page.click("#submit")
            page.wait_for_function("document.getElementById('status').textContent.includes('saved')")
            assert "saved 5 decision(s); resumed 1 flow run(s)" in page.inner_text("#status")
            browser.close()
    finally:
        server.should_exit = True
    runner.join(timeout=120)
    assert result and _state(run.id).is_completed()
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
    time.sleep(0.1)
