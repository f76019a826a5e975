"""The review deployment on a real `prefect server` with a process worker: the run suspends at the gate (the
worker is free), the review page's submit resumes it, the worker runs it again and it completes."""

from __future__ import annotations

import pytest

from tests.flows.review_chain import review_store
from tests.flows.server import BIN, create_process_pools, deploy

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_a_suspended_review_run_is_resumed_by_the_page_and_completes(infra, wait_until, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from starlette.testclient import TestClient

    from elt_review.review_app import create_app
    from tasks.decisions import read_decisions

    base, env, procs = infra
    create_process_pools(env, "cpu-pool")
    deploy(env, "review")
    store, projected = review_store(tmp_path / "store", n=3)
    procs.start("worker", [str(BIN / "prefect"), "worker", "start", "--pool", "cpu-pool"], env)
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        run = run_deployment("review/review", parameters={"store": store.url, "projected": projected.key}, timeout=0)
        with get_client(sync_client=True) as client:
            suspended = wait_until(
                lambda: (r := client.read_flow_run(run.id)).state.is_paused() and r, timeout=180, what="a suspension"
            )
            assert suspended.state.name == "Suspended"  # a deployment run suspends: no process holds the worker
            page = TestClient(
                create_app(store=store.url, token="t"), base_url="http://127.0.0.1", headers={"x-review-token": "t"}
            )
            faces = page.get("/api/faces").json()["faces"]
            assert [f["id"] for f in faces] == ["p0.png#0", "p1.png#0", "p2.png#0"]
            body = {
                "reviewer": "erin",
                "decisions": [
                    {"face_id": "p0.png#0", "decision": "accept"},
                    {"face_id": "p1.png#0", "decision": "reject"},
                    {"face_id": "p2.png#0", "decision": "accept"},
                ],
            }
            answer = page.post("/api/decisions", json=body).json()
            assert answer["written"] == 3 and answer["resumed"] == [str(run.id)]
            done = wait_until(
                lambda: (r := client.read_flow_run(run.id)).state.is_final() and r, timeout=180, what="the end"
            )
            assert done.state.is_completed(), done.state
    decided = read_decisions(store).set_index("face_id")
    assert dict(decided["decision"]) == {"p0.png#0": "accept", "p1.png#0": "reject", "p2.png#0": "accept"}
    review_dirs = list((tmp_path / "store" / "review").glob("*/stage.json"))
    assert len(review_dirs) == 1  # the review stage's outcome, computed once by the resumed run
