"""The review gate on a Prefect server: the run pauses for a person, bad input is refused and the run stays
paused, good input resumes it, decisions persist, and a second run asks nothing."""

from __future__ import annotations

import threading
import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run
from prefect.testing.utilities import prefect_test_harness
from tasks.prefect_review import review_gate
from tasks.prefect_stages import StageRef

from tasks.review import ReviewPolicy, read_decisions
from tasks.stage import Store
from tests.tasks.test_review import projected_output

pytestmark = pytest.mark.server


@flow(name="review-gate-test")
def gate_flow(store: str, projected: StageRef, policy: ReviewPolicy) -> StageRef:
    return review_gate(store, projected, policy)


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _runs(name: str = "review-gate-test"):
    with get_client(sync_client=True) as client:
        return [r for r in client.read_flow_runs() if r.name and r.flow_id and client.read_flow(r.flow_id).name == name]


def _wait_for(predicate, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


def _state(run_id):
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def _paused_with(run_id, key_count: int):
    state = _state(run_id)
    return state.is_paused() and state.state_details.run_input_keyset and key_count


def test_gate_pauses_refuses_bad_input_and_resumes_with_good_input(harness, tmp_path):
    store = Store(tmp_path)
    projected = StageRef.of(projected_output(store))
    policy = ReviewPolicy(policy="human", timeout_s=300)
    result = []
    thread = threading.Thread(target=lambda: result.append(gate_flow(str(tmp_path), projected, policy)))
    thread.start()
    run = _wait_for(lambda: next((r for r in _runs() if r.state.is_paused()), None))
    description = run.state.state_details.run_input_keyset
    assert description  # the run waits for input

    with pytest.raises(Exception, match="(?i)validation|invalid|not valid"):  # unknown id: the API refuses
        resume_flow_run(
            run.id, run_input={"reviewer": "ann", "decisions": [{"face_id": "no-such-face", "decision": "accept"}]}
        )
    time.sleep(1)
    assert _state(run.id).is_paused()
    # valid for the schema but incomplete: the gate refuses it and waits again
    resume_flow_run(run.id, run_input={"reviewer": "ann", "decisions": [{"face_id": "img0#0", "decision": "accept"}]})
    _wait_for(lambda: _state(run.id).is_paused() and not result, timeout=60)
    assert read_decisions(store).empty  # nothing of a refused batch was written
    resume_flow_run(
        run.id,
        run_input={
            "reviewer": "ann",
            "decisions": [
                {"face_id": "img0#0", "decision": "accept"},
                {"face_id": "img1#0", "decision": "reject", "reason": "no"},
                {"face_id": "img2#0", "decision": "accept"},
            ],
        },
    )
    thread.join(timeout=120)
    assert result, "the flow did not finish"
    outcome = result[0].output().manifest().set_index("detection_id")
    assert list(outcome["status"]) == ["accepted", "rejected", "accepted", "discarded"]
    decided = read_decisions(store, history=True)
    assert sorted(decided["face_id"]) == ["img0#0", "img1#0", "img2#0"] and set(decided["reviewer"]) == {"ann"}

    started = time.time()
    again = gate_flow(str(tmp_path), projected, policy)  # every face decided: the gate passes at once
    assert again.key == result[0].key and time.time() - started < 30


def test_auto_policy_never_pauses(harness, tmp_path):
    store = Store(tmp_path)
    projected = StageRef.of(projected_output(store))
    out = gate_flow(str(tmp_path), projected, ReviewPolicy(policy="auto", lpips_threshold=0.15))
    statuses = out.output().manifest()["status"].tolist()
    assert statuses == ["accepted", "rejected", "rejected", "discarded"]
    assert set(read_decisions(store)["policy"]) == {"auto"}
