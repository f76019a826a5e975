"""Rows on the GPU pool against a real `prefect server`: a run that no worker takes fails, naming the pool and
the command that starts a worker, instead of waiting forever."""

from __future__ import annotations

import subprocess

import pytest
from prefect import flow

from flows.pool import NoWorkerError, run_on_pool
from flows.reproduce import reproduce
from kit.prefect_stage import StageRef, StageRunner
from kit.stage import Runtime
from tasks.project import project
from tests.flows.server import create_process_pools, deploy, runs_of_store
from tests.flows.tiny_profile import write_profile
from tests.outputs import output_bytes
from tests.tasks.test_project import PARAMS

pytestmark = [pytest.mark.server, pytest.mark.slow]


@flow(name="sharded-projection-test")
def sharded_projection(store: str, filtered: StageRef) -> StageRef:
    """The tiny projection of ``filtered`` with ``--pool`` and two faces per shard: a flow run per shard."""
    runner = StageRunner(store=store, runtime=Runtime(device="cpu", shard_faces=2))
    return run_on_pool(runner, project, PARAMS, filtered=filtered, worker_wait_s=120, device="cpu")


def test_a_row_sent_to_a_pool_without_a_worker_fails_naming_the_pool(infra, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    base, env, _ = infra
    create_process_pools(env, "gpu-pool")
    deploy(env, "train-experiment")
    profile = write_profile(tmp_path, 0.25)
    profile.write_text("pool_wait_s = 3\n" + profile.read_text())
    settings = {
        PREFECT_API_URL: env["PREFECT_API_URL"],
        PREFECT_HOME: str(tmp_path / "home"),
        PREFECT_LOCAL_STORAGE_PATH: str(tmp_path / "home" / "storage"),
    }
    with temporary_settings(updates=settings):
        with pytest.raises(NoWorkerError, match=r"no worker of pool 'gpu-pool' took flow run .* in 3 s; start one"):
            reproduce(store=str(tmp_path / "store"), profile_file=str(profile), experiments=["elt"], local=False)
        with get_client(sync_client=True) as client:
            rows = [r for r in runs_of_store(client, str(tmp_path / "store")) if r.name == "train-elt"]
    assert len(rows) == 1 and rows[0].state.name == "Cancelled"  # nothing left waiting in the queue
    assert not (tmp_path / "store" / "train_landmarks").exists()


def test_gpu_stages_run_on_the_gpu_pool_a_killed_one_is_started_again_and_no_worker_fails_in_time(
    infra, tmp_path, wait_until
):
    """With --pool every GPU stage and the row run on the GPU pool; a GPU stage whose process is SIGKILLed is
    started again and reuses what was done; with the worker stopped, a changed stage fails within the wait."""
    import os
    import signal
    import threading

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from kit.prefect_stage import HOLD_FILE_ENV, HOLD_STAGE_ENV
    from tests.flows.server import BIN

    base, env, procs = infra
    create_process_pools(env, "gpu-pool")
    deploy(env, "train-experiment", "run-stage")
    marker = tmp_path / "project.held"  # the projection's process stops part-way and says where it is
    held_env = {**env, HOLD_STAGE_ENV: "project", HOLD_FILE_ENV: str(marker)}
    worker = procs.start("gpu-worker-held", [str(BIN / "prefect"), "worker", "start", "--pool", "gpu-pool"], held_env)
    profile = write_profile(tmp_path, 0.25, gan=True)
    text = profile.read_text().replace("steps = 8", "steps = 10")
    profile.write_text("pool_wait_s = 120\n" + text)
    settings = {
        PREFECT_API_URL: env["PREFECT_API_URL"],
        PREFECT_HOME: str(tmp_path / "home"),
        PREFECT_LOCAL_STORAGE_PATH: str(tmp_path / "home" / "storage"),
    }
    outcome: list = []

    def parent() -> None:
        with temporary_settings(updates=settings):
            try:
                store = str(tmp_path / "store")
                outcome.append(reproduce(store=store, profile_file=str(profile), experiments=["elt"], local=False))
            except Exception as error:  # the assertion below shows it
                outcome.append(error)

    thread = threading.Thread(target=parent, daemon=True)
    thread.start()
    wait_until(marker.exists, timeout=300, what="the projection to reach its hold point")
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the flow run's process dies; its worker lives on
    thread.join(600)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    store = str(tmp_path / "store")
    with temporary_settings(updates=settings), get_client(sync_client=True) as client:
        mine = runs_of_store(client, store)
    assert sorted(r.state.name for r in mine if r.name == "project") == ["Completed", "Crashed"]  # started again
    assert [r.state.name for r in mine if r.name == "segment_train"] == ["Completed"]  # done once, then reused
    assert outcome[0].gan.projected.output().manifest().shape[0] > 0
    assert not list((tmp_path / "store" / ".locks").glob("*.lease"))  # the dead run's lease was taken over
    pools = {r.name: r.work_pool_name for r in mine if r.state.is_completed()}
    for name in ("segment_train", "project", "attributes", "relight_styleflow", "train-elt"):
        assert pools.get(name) == "gpu-pool", (name, pools)  # the GPU work ran on the GPU pool
    row = next(r for r in mine if r.name == "train-elt" and r.state.is_completed())
    projection = next(r for r in mine if r.name == "project" and r.state.is_completed())
    assert row.start_time < projection.end_time  # a row that needs no relit faces trains while the GAN branch runs
    os.killpg(worker.pid, signal.SIGTERM)  # the GPU worker stops; a changed projection must wait for one
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:  # a loaded machine may keep it in its shutdown: it must be gone all the same
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    profile.write_text("pool_wait_s = 3\n" + text.replace("steps = 10", "steps = 11"))
    refused = pytest.raises(NoWorkerError, match=r"stage project: no worker of pool 'gpu-pool' took flow run project")
    with temporary_settings(updates=settings), refused:
        reproduce(store=store, profile_file=str(profile), experiments=["elt"], local=False)


def test_a_sharded_projection_runs_its_shards_on_two_workers_at_once_and_merges_to_the_local_bytes(
    infra, tmp_path, caplog, wait_until
):
    """Three shards, two GPU workers that take one flow run each at a time: two shards compute at the same time
    (their flow runs overlap), and the merged output is the local unsharded projection, byte for byte.

    The first worker's shard holds part-way (the drill switch) until another shard's flow run has started, so the
    overlap does not depend on how fast this machine starts a worker's process."""
    import threading

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from kit.prefect_stage import HOLD_FILE_ENV, HOLD_STAGE_ENV
    from kit.store import Store
    from tests.flows.server import BIN, create_limit
    from tests.kit.toy_stages import AlignedFacesConfig, aligned_faces

    base, env, procs = infra
    create_process_pools(env, "gpu-pool")
    create_limit(env, "eltrepro-gpu", 2)
    deploy(env, "run-stage")
    marker = tmp_path / "shard.held"
    held = env | {HOLD_STAGE_ENV: "project.shard", HOLD_FILE_ENV: str(marker)}
    for i, worker_env in enumerate((held, env)):
        procs.start(
            f"gpu-{i}", [str(BIN / "prefect"), "worker", "start", "--pool", "gpu-pool", "--limit", "1"], worker_env
        )
    local, pooled = Store(tmp_path / "local"), Store(tmp_path / "pooled")
    faces = AlignedFacesConfig(faces=6)
    unsharded, _ = project.run(store=local, config=PARAMS, filtered=aligned_faces.run(store=local, config=faces)[0])
    filtered = aligned_faces.run(store=pooled, config=faces)[0]

    settings = {PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_HOME: env["PREFECT_HOME"]}
    outcome: list = []

    def parent() -> None:
        with temporary_settings(updates=settings):
            outcome.append(
                sharded_projection(pooled.url, StageRef(store=pooled.url, stage=filtered.stage, key=filtered.key))
            )

    def started_shards() -> int:
        with temporary_settings(updates=settings), get_client(sync_client=True) as client:
            shards = [r for r in runs_of_store(client, pooled.url) if r.name.startswith("project-shard")]
        return len([r for r in shards if r.start_time is not None])

    thread = threading.Thread(target=parent, daemon=True)
    thread.start()
    wait_until(marker.exists, timeout=240, what="a shard to reach its hold point")
    wait_until(lambda: started_shards() >= 2, timeout=240, what="a second shard to start while the first holds")
    marker.unlink()  # the held shard goes on
    thread.join(300)
    assert outcome, "the sharded projection did not finish"
    merged = outcome[0]
    with temporary_settings(updates=settings), get_client(sync_client=True) as client:
        runs = [r for r in runs_of_store(client, pooled.url) if r.name.startswith("project-shard")]
    assert merged.key == unsharded.key
    assert sorted(r.name for r in runs) == [f"project-shard{i}of3" for i in (1, 2, 3)]
    assert all(r.state.is_completed() for r in runs), [r.state for r in runs]
    spans = sorted((r.start_time, r.end_time) for r in runs)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)), spans  # two shards at once
    assert len(list((tmp_path / "pooled" / "project.shard").glob("*/stage.json"))) == 3
    assert "project: 3/3 shards done" in caplog.text and "faces/s" in caplog.text  # what the command line shows
    assert output_bytes(merged.output()) == output_bytes(unsharded) and len(output_bytes(unsharded)) > 6


def test_a_worker_killed_inside_its_shard_costs_that_shard_only(infra, tmp_path, wait_until):
    """Two workers; one computes its shard under a drill hold and is SIGKILLed there: Prefect starts that flow
    run again, the run completes, and every other shard was computed exactly once (its output written once)."""
    import os
    import signal
    import threading

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from kit.prefect_stage import HOLD_FILE_ENV, HOLD_STAGE_ENV
    from kit.store import Store
    from tests.flows.server import BIN, create_limit
    from tests.kit.toy_stages import AlignedFacesConfig, aligned_faces

    base, env, procs = infra
    create_process_pools(env, "gpu-pool")
    create_limit(env, "eltrepro-gpu", 2)
    deploy(env, "run-stage")
    marker = tmp_path / "shard.held"
    held = env | {HOLD_STAGE_ENV: "project.shard", HOLD_FILE_ENV: str(marker)}
    for i, worker_env in enumerate((held, env)):
        procs.start(
            f"gpu-{i}", [str(BIN / "prefect"), "worker", "start", "--pool", "gpu-pool", "--limit", "1"], worker_env
        )
    store = Store(tmp_path / "store")
    filtered = aligned_faces.run(store=store, config=AlignedFacesConfig(faces=6))[0]
    ref = StageRef(store=store.url, stage=filtered.stage, key=filtered.key)
    settings = {PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_HOME: env["PREFECT_HOME"]}
    outcome: list = []

    def parent() -> None:
        with temporary_settings(updates=settings):
            outcome.append(sharded_projection(store.url, ref))

    thread = threading.Thread(target=parent, daemon=True)
    thread.start()
    wait_until(marker.exists, timeout=240, what="a shard to reach its hold point")
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the shard's process dies; its worker lives on
    thread.join(300)
    assert outcome, "the sharded projection did not finish"
    shards = sorted((tmp_path / "store" / "project.shard").glob("*/stage.json"))
    assert len(shards) == 3 and (tmp_path / "store" / "project" / outcome[0].key / "stage.json").is_file()
    with temporary_settings(updates=settings), get_client(sync_client=True) as client:
        runs = [r for r in runs_of_store(client, store.url) if r.name.startswith("project-shard")]
    completed = sorted(r.name for r in runs if r.state.is_completed())
    crashed = [r.name for r in runs if not r.state.is_completed()]
    assert completed == [f"project-shard{i}of3" for i in (1, 2, 3)], completed  # every shard computed once...
    assert len(crashed) == 1 and crashed[0] in completed, crashed  # ...the killed one once more, alone
    assert [r.state.name for r in runs if not r.state.is_completed()] == ["Crashed"]
