"""The review deployment on a real `prefect server` with a process worker: the run suspends at the gate (the
worker is free), the review page's submit resumes it, the worker runs it again and it completes."""

from __future__ import annotations

import time

import pytest

from tests.flows.test_review_page import review_store
from tests.flows.test_server_e2e import BIN, _cli, infra  # noqa: F401

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _wait_state(client, run_id, predicate, timeout_s: float = 180.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.read_flow_run(run_id)
        if predicate(run.state):
            return run
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} stuck in {client.read_flow_run(run_id).state}")


def test_a_suspended_review_run_is_resumed_by_the_page_and_completes(infra, tmp_path):  # noqa: F811
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from starlette.testclient import TestClient

    from flows.review_app import create_app
    from tasks.review import read_decisions

    base, env, procs = infra
    _cli(env, "work-pool", "create", "cpu-pool", "--type", "process")
    _cli(env, "--no-prompt", "deploy", "--name", "review")
    store, projected = review_store(tmp_path / "store", n=3)
    procs.start("worker", [str(BIN / "prefect"), "worker", "start", "--pool", "cpu-pool"], env)
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        run = run_deployment("review/review", parameters={"store": store.url, "projected": projected.key}, timeout=0)
        with get_client(sync_client=True) as client:
            suspended = _wait_state(client, run.id, lambda s: s.is_paused())
            assert suspended.state.name == "Suspended"  # a deployment run suspends: no process holds the worker
            page = TestClient(create_app(store=store.url))
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
            done = _wait_state(client, run.id, lambda s: s.is_final())
            assert done.state.is_completed(), done.state
    decided = read_decisions(store).set_index("face_id")
    assert dict(decided["decision"]) == {"p0.png#0": "accept", "p1.png#0": "reject", "p2.png#0": "accept"}
    review_dirs = list((tmp_path / "store" / "review").glob("*/stage.json"))
    assert len(review_dirs) == 1  # the review stage's outcome, computed once by the resumed run
