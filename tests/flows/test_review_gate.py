"""The review gate on a Prefect server: the run pauses for a person, bad input is refused and the run stays
paused, good input resumes it, decisions persist, and a second run asks nothing."""

from __future__ import annotations

import time

import pytest
from prefect.flow_runs import resume_flow_run

from kit.prefect_stage import StageRef
from kit.store import Store
from tasks.decisions import ReviewGateConfig, read_decisions
from tests.flows.gate import gate_flow, gate_in_thread, paused_gate_run, state_of
from tests.kit.toy_stages import ProjectedConfig, project

pytestmark = pytest.mark.server


def projected_ref(store: Store) -> StageRef:
    return StageRef.of(project.run(store=store, config=ProjectedConfig(faces=4))[0])


def test_gate_pauses_refuses_bad_input_and_resumes_with_good_input(prefect_harness, wait_until, tmp_path):
    store = Store(tmp_path)
    projected = projected_ref(store)
    policy = ReviewGateConfig(policy="human", timeout_s=300)
    result = []
    thread = gate_in_thread(str(tmp_path), projected, policy, result)
    run = wait_until(lambda: paused_gate_run(str(tmp_path)), what="the gate run to pause")
    description = run.state.state_details.run_input_keyset
    assert description  # the run waits for input

    with pytest.raises(Exception, match="(?i)validation|invalid|not valid"):  # unknown id: the API refuses
        resume_flow_run(
            run.id, run_input={"reviewer": "ann", "decisions": [{"face_id": "no-such-face", "decision": "accept"}]}
        )
    assert state_of(run.id).is_paused()  # the API refused it synchronously: the run never left its pause
    # valid for the schema but incomplete: the gate refuses it and waits again
    resume_flow_run(run.id, run_input={"reviewer": "ann", "decisions": [{"face_id": "img0#0", "decision": "accept"}]})
    wait_until(lambda: state_of(run.id).is_paused() and not result, what="the gate to pause again")
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


def test_auto_policy_never_pauses(prefect_harness, tmp_path):
    store = Store(tmp_path)
    projected = projected_ref(store)
    out = gate_flow(str(tmp_path), projected, ReviewGateConfig(policy="auto", lpips_threshold=0.15))
    statuses = out.output().manifest()["status"].tolist()
    assert statuses == ["accepted", "rejected", "rejected", "discarded"]
    assert set(read_decisions(store)["policy"]) == {"auto"}


def test_the_page_resumes_only_the_runs_gated_on_its_own_store(prefect_harness, wait_until, tmp_path):
    from starlette.testclient import TestClient

    from elt_review.review_app import create_app
    from tests.flows.gate import gate_runs
    from tests.flows.review_chain import review_store

    config = ReviewGateConfig(policy="human", timeout_s=300)
    (store_a, projected_a), (store_b, projected_b) = (review_store(tmp_path / n, n=2) for n in ("a", "b"))
    results_a, results_b = [], []
    thread_a = gate_in_thread(store_a.url, projected_a, config, results_a)
    thread_b = gate_in_thread(store_b.url, projected_b, config, results_b)

    def mine():
        return gate_runs(store_a.url) + gate_runs(store_b.url)

    paused = wait_until(lambda: len([r for r in mine() if r.state.is_paused()]) == 2 and mine())
    run_of = {r.parameters["store"]: r.id for r in paused if r.state.is_paused()}
    body = {"reviewer": "ann", "decisions": [{"face_id": f"p{i}.png#0", "decision": "accept"} for i in range(2)]}

    answer = (
        TestClient(
            create_app(store=store_a.url, token="t"), base_url="http://127.0.0.1", headers={"x-review-token": "t"}
        )
        .post("/api/decisions", json=body)
        .json()
    )
    assert answer["resumed"] == [str(run_of[store_a.url])]  # not the run gated on the other store
    thread_a.join(timeout=120)
    assert results_a and state_of(run_of[store_a.url]).is_completed()
    assert state_of(run_of[store_b.url]).is_paused() and not results_b

    answer = (
        TestClient(
            create_app(store=store_b.url, token="t"), base_url="http://127.0.0.1", headers={"x-review-token": "t"}
        )
        .post("/api/decisions", json=body)
        .json()
    )
    assert answer["resumed"] == [str(run_of[store_b.url])]
    thread_b.join(timeout=120)
    assert results_b and state_of(run_of[store_b.url]).is_completed()
