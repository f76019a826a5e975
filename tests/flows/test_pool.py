"""Rows on the GPU pool against a real `prefect server`: a run that no worker takes fails, naming the pool and
the command that starts a worker, instead of waiting forever."""

from __future__ import annotations

import subprocess

import pytest

from flows.pool import NoWorkerError
from flows.reproduce import reproduce
from tests.flows.server import create_process_pools, deploy, runs_of_store
from tests.flows.tiny_profile import write_profile

pytestmark = [pytest.mark.server, pytest.mark.slow]


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
