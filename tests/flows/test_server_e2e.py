"""The DAG on real infrastructure: `prefect server start`, process workers, the deployments of prefect.yaml.

One scenario, as a user meets it: a run of the `reproduce` deployment trains its rows as flow runs of the
`train-experiment` deployment on the GPU pool (two workers, the `eltrepro-gpu` limit at 1), an evaluation fails
(``ELTREPRO_FAIL_STAGE``), the run is retried exactly as the UI's Retry button does it (state AwaitingRetry,
forced), and the retry finishes without recomputing any completed stage; its report equals the report of an
uninterrupted run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kit.prefect_stage import FAIL_STAGE_ENV, FAIL_SWITCH_ENV
from tasks.report_header import without_machine_facts
from tests.flows.server import BIN, ROOT, create_limit, create_process_pools, deploy
from tests.flows.tiny_profile import write_profile

pytestmark = [pytest.mark.server, pytest.mark.slow]

RUN_TIMEOUT_S = 300


def _snapshot(store: Path) -> dict[str, bytes]:
    """The bytes of every complete output's stage.json and manifest, by path."""
    return {
        str(p.relative_to(store)): p.read_bytes()
        for name in ("stage.json", "manifest.parquet")
        for p in store.glob(f"*/*/{name}")
        if (p.parent / "stage.json").is_file()
    }


def test_a_failed_deployment_run_retried_from_the_ui_finishes_without_recomputing(infra):
    base, env, procs = infra
    started = time.monotonic()
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import State

    create_process_pools(env, "cpu-pool", "gpu-pool")
    create_limit(env, "eltrepro-gpu", 1)
    deploy(env)  # every deployment, exactly as prefect.yaml declares it
    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), get_client(sync_client=True) as client:
        for kind, template in (("docker", "docker-gpu.json"), ("kubernetes", "kubernetes-gpu.json")):
            job = json.loads((ROOT / "docker" / "pools" / template).read_text())
            pool = client.create_work_pool(WorkPoolCreate(name=f"gpu-{kind}", type=kind, base_job_template=job))
            assert pool.base_job_template == job  # the server accepts the GPU templates as they are

    profile = write_profile(base, 0.25)
    switch = base / "fail-evaluate.on"
    switch.touch()
    workers = env | {FAIL_STAGE_ENV: "evaluate_landmarks", FAIL_SWITCH_ENV: str(switch)}
    procs.start("cpu-worker", [str(BIN / "prefect"), "worker", "start", "--pool", "cpu-pool"], workers)
    for i in (1, 2):  # two GPU workers: the rows spread over them, the concurrency limit keeps one at a time
        procs.start(f"gpu-worker-{i}", [str(BIN / "prefect"), "worker", "start", "--pool", "gpu-pool"], workers)

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), get_client(sync_client=True) as client:

        def run(store: Path):
            parameters = {"profile_file": str(profile), "store": str(store), "local": False}
            flow_run = run_deployment("reproduce/reproduce", parameters=parameters, timeout=0)
            return _wait_final(client, flow_run.id, base)

        interrupted = base / "store-interrupted"
        failed = run(interrupted)
        assert failed.state.type == StateType.FAILED, failed.state
        before = _snapshot(interrupted)
        assert sorted({k.split("/")[0] for k in before}) == ["index_wflw", "subsets", "synth_wflw", "train_landmarks"]
        assert sum(k.startswith("train_landmarks/") for k in before) == 4  # both rows trained (2 files each)

        switch.unlink()  # the cause is fixed; now the UI's Retry button:
        retry = State(type=StateType.SCHEDULED, name="AwaitingRetry", message="Retry from the UI")
        client.set_flow_run_state(failed.id, state=retry, force=True)
        retried = _wait_final(client, failed.id, base)
        assert retried.state.type == StateType.COMPLETED and retried.run_count == 2, retried.state
        after = _snapshot(interrupted)
        assert {k: after[k] for k in before} == before  # nothing that was complete was recomputed
        assert {k.split("/")[0] for k in set(after) - set(before)} == {"evaluate_landmarks", "report"}

        clean = base / "store-uninterrupted"
        assert run(clean).state.type == StateType.COMPLETED
        reports = [sorted((s / "report").glob("*/report.md")) for s in (interrupted, clean)]
        assert len(reports[0]) == len(reports[1]) == 1
        assert reports[0][0].parent.name == reports[1][0].parent.name  # the same key...
        for name in ("manifest.parquet", "tables/table_4.1.csv"):  # ...and the same bytes
            assert (reports[0][0].parent / name).read_bytes() == (reports[1][0].parent / name).read_bytes()
        texts = [without_machine_facts(r[0].read_text()) for r in reports]  # all but the date and the wall times
        assert texts[0] == texts[1] and "## Table 4.1" in texts[0]

        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[failed.id]))
        )
        _assert_one_row_at_a_time(client, [c for c in children if c.state.type == StateType.COMPLETED])
    print(f"server e2e scenario: {time.monotonic() - started:.0f} s")


def _wait_final(client, flow_run_id, base: Path):
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        flow_run = client.read_flow_run(flow_run_id)
        if flow_run.state is not None and flow_run.state.is_final():
            return flow_run
        time.sleep(1.0)
    logs = "\n".join(p.read_text()[-2000:] for p in sorted(base.glob("*worker*.log")))
    pytest.fail(f"flow run {flow_run_id} not final after {RUN_TIMEOUT_S} s:\n{logs}")


def _assert_one_row_at_a_time(client, children) -> None:
    """With the eltrepro-gpu limit at 1, the training/evaluation of two rows never overlaps in time."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    spans = []
    for child in children:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[child.id])))
        timed = [t for t in tasks if t.start_time and t.end_time]
        spans.append((min(t.start_time for t in timed), max(t.end_time for t in timed)))
    assert len(spans) >= 2, "the rows ran as train-experiment flow runs"
    spans.sort()
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False)), spans
