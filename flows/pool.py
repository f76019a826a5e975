"""GPU work on the GPU work pool (``--pool``).

* Rows: each unfinished row becomes a flow run of the ``train-experiment`` deployment, started at once and
  awaited; rows whose training and evaluation are complete are not sent. The rows that need no relit faces are
  started right after the data branch, before the GAN branch (``submit_rows`` then ``await_rows``).
* GPU stages (declared ``gpu=True``: projection, the StyleFlow edit, DPR attributes, the segmenter's training):
  each becomes a flow run of the ``run-stage`` deployment (``run_on_pool``, set as the runner's ``remote``). A
  sharded stage (``shard_by``, with the profile's ``shard_faces`` > 0) becomes one flow run per missing shard,
  all submitted at once (the ``eltrepro-gpu`` limit bounds how many compute together); the shards are then
  merged here into the stage's usual output.

A run that no worker takes within the profile's ``pool_wait_s`` is cancelled and fails naming the pool."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from prefect import get_run_logger, task
from prefect.deployments import run_deployment
from prefect.futures import as_completed, wait

from elt_study.experiments import ExperimentRow, seeded_configs
from elt_study.run_profile import Profile
from flows.names import STAGE_DEPLOYMENT
from flows.refs import DataRefs, GanRefs
from kit.prefect_stage import RefValue, StageRef, StageRunner, outputs_of
from kit.progress import StageProgress
from kit.shards import shard_address
from kit.stage import Stage
from kit.store import Store
from landmark_core.config import to_dict
from landmark_core.train_config import TrainConfig
from tasks.evaluate_landmarks import EvaluateConfig, evaluate_landmarks
from tasks.train_landmarks import train_landmarks

POLL_S = 2.0


def row_complete(run: StageRunner, *, config: TrainConfig, data: DataRefs, augmented: StageRef | None) -> bool:
    """Whether a row's training and its evaluation are both complete in the store (nothing left to run)."""
    inputs = {"dataset": data.dataset, "index": data.index, "augmented": augmented}
    if not run.is_complete(train_landmarks, config, **inputs):
        return False
    trained = StageRef(store=run.store, stage=train_landmarks.name, key=run.key(train_landmarks, config, **inputs))
    return run.is_complete(
        evaluate_landmarks,
        EvaluateConfig(),
        dataset=data.dataset,
        index=data.index,
        subsets=data.subsets,
        trained=trained,
    )


class NoWorkerError(RuntimeError):
    """No worker of the pool took a flow run within the wait (the message names the pool and the fix)."""


@task(name="run-train-experiment")
def launch_row(deployment: str, row: str, parameters: dict, worker_wait_s: float = 600.0) -> str:
    """Run one row as a flow run of the ``train-experiment`` deployment and wait for it; returns its id."""
    return await_flow_run(deployment, f"train-{row}", parameters, worker_wait_s=worker_wait_s, what=f"row {row}")


def await_flow_run(
    deployment: str, name: str, parameters: dict, *, worker_wait_s: float, what: str, retries: int = 2
) -> str:
    """Start a flow run of ``deployment`` and wait for it to end; returns its id.

    A run that no worker takes within ``worker_wait_s`` is cancelled and fails with ``NoWorkerError`` naming the
    pool and the command that starts a worker, instead of waiting forever. A run that crashes (its process
    killed: out of memory, a lost machine) is started again, up to ``retries`` times: every output it finished
    is reused, and the stage it was in takes its dead writer's lease over.

    Raises:
        NoWorkerError: nobody took the run in time.
        RuntimeError: the run ended other than Completed (after its retries, for a crash).
    """
    for attempt in range(retries + 1):
        run = _await_once(deployment, name, parameters, worker_wait_s=worker_wait_s, what=what)
        if run.state.is_completed():
            return str(run.id)
        if not run.state.is_crashed() or attempt == retries:
            raise RuntimeError(f"{what}: flow run {run.name} ({run.id}) ended {run.state.name}")
        get_run_logger().warning("%s: flow run %s crashed (%s); starting it again", what, run.name, run.state.message)
    raise AssertionError("unreachable")


def _await_once(deployment: str, name: str, parameters: dict, *, worker_wait_s: float, what: str):
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    started = time.monotonic()
    run = run_deployment(name=deployment, parameters=parameters, flow_run_name=name, timeout=0)
    with get_client(sync_client=True) as client:
        while not (run.state and run.state.is_final()):
            waiting = run.state is None or run.state.is_scheduled() or run.state.is_pending()
            if waiting and time.monotonic() - started > worker_wait_s:
                pool = client.read_deployment_by_name(deployment).work_pool_name
                client.set_flow_run_state(run.id, Cancelled(message="no worker took the run"), force=True)
                raise NoWorkerError(
                    f"{what}: no worker of pool {pool!r} took flow run {run.name} in {worker_wait_s:.0f} s; "
                    f"start one with `prefect worker start --pool {pool}` (or run with --local)"
                )
            time.sleep(POLL_S)
            run = client.read_flow_run(run.id)
    return run


def run_on_pool(
    runner: StageRunner,
    stage: Stage,
    config: Any,
    *,
    label: str = "",
    deployment: str = STAGE_DEPLOYMENT,
    worker_wait_s: float = 600.0,
    device: str = "auto",
    weights_dir: str = "",
    **inputs: RefValue,
) -> StageRef:
    """Run a GPU stage as a flow run of the ``run-stage`` deployment (the GPU pool); its output returns through
    the store. A complete output is returned without sending anything. (``StageRunner.remote`` with ``--pool``.)

    Raises:
        RuntimeError: the worker made another key (its code or inputs differ from this run's), or failed.
        NoWorkerError: no worker took the run within ``worker_wait_s``.
    """
    key = runner.key(stage, config, **inputs)
    expected = StageRef(store=runner.store, stage=stage.name, key=key)
    if runner.is_complete(stage, config, **inputs):
        return expected
    name = f"{stage.name}-{label}" if label else stage.name
    plain = {n: _plain(v) for n, v in inputs.items()}
    parameters = {"stage": stage.name, "store": runner.store, "config": to_dict(config), "inputs": plain}
    parameters |= {"label": label, "device": device, "weights_dir": weights_dir}
    remote_task = task(name=f"{name}@pool", persist_result=False)(await_flow_run)
    plan = stage.shard_plan(config=config, runtime=runner.runtime, inputs=outputs_of(inputs))
    if plan:  # one flow run per missing shard (the runner's shard_faces), all at once; then the merge, here
        store = Store(runner.store)
        missing = [r for r in plan if not store.is_complete(*shard_address(stage=stage.name, stage_key=key, rows=r))]
        futures = [_submit_shard(remote_task, deployment, name, parameters, plan, r, worker_wait_s) for r in missing]
        _await_shards(futures, missing, plan, name)
        return replace(runner, remote=None)(stage, config, label=label, **inputs)
    remote_task(deployment, name, parameters, worker_wait_s=worker_wait_s, what=f"stage {name}")
    if not Store(runner.store).is_complete(stage.name, key):
        raise RuntimeError(
            f"stage {name}: the GPU worker finished but {stage.name}/{key} is not in {runner.store}: the worker "
            "runs other code or sees another store (deploy the same checkout, share the store)"
        )
    return expected


def _await_shards(futures: list, missing: list[range], plan: list[range], name: str) -> None:
    """Wait for the submitted shards; report shards done / total (the command line's bar) and log each shard's end
    with the faces per second so far (the command line and the flow run's log in the UI)."""
    progress, started = StageProgress(f"{name}: shards"), time.monotonic()
    done, faces = len(plan) - len(missing), 0
    progress.update(done / len(plan))
    faces_of = {id(future): len(rows) for future, rows in zip(futures, missing, strict=True)}
    for future in as_completed(futures):
        future.result()
        done, faces = done + 1, faces + faces_of[id(future)]
        progress.update(done / len(plan))
        rate = faces / max(time.monotonic() - started, 1e-9)
        get_run_logger().info("%s: %d/%d shards done, %.2f faces/s", name, done, len(plan), rate)


def _submit_shard(remote_task, deployment: str, name: str, parameters: dict, plan: list[range], rows: range, wait_s):
    """Submit one shard's flow run (``<stage>-shard<i>of<n>``) without waiting for it; its future."""
    where = f"{plan.index(rows) + 1}of{len(plan)}"
    label = "-".join(filter(None, (parameters["label"], f"shard{where}")))  # names the flow run
    shard = parameters | {"shard": [rows.start, rows.stop], "label": label}
    return remote_task.submit(deployment, f"{name}-shard{where}", shard, worker_wait_s=wait_s, what=f"{name} {where}")


def _plain(value: RefValue) -> Any:
    if isinstance(value, StageRef):
        return value.model_dump()
    if isinstance(value, dict):
        return {name: ref.model_dump() for name, ref in value.items()}
    return None


def check_deployment(deployment: str) -> None:
    """Fail early, naming the fix, when the train-experiment deployment is not on the Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(deployment)
        except ObjectNotFound as err:
            raise ValueError(
                f"deployment {deployment!r} is not on the Prefect server at {client.api_url}; "
                "create it with `prefect --no-prompt deploy --all` (prefect.yaml) or run with --local"
            ) from err


@dataclass(frozen=True)
class _Launch:
    name: str  # the run: the row's name, with its seed when it has several
    parameters: dict


def submit_rows(
    run: StageRunner, rows: list[ExperimentRow], prof: Profile, data: DataRefs, deployment: str, gan: GanRefs | None
) -> list:
    """Start every unfinished row (once per seed) on the GPU pool at once, without waiting; their futures."""
    launches = []
    for row in rows:
        augmented = gan.augmented_for(row.relit) if gan and row.relit else None
        for name, config in seeded_configs(base=prof.train, row=row, seeds=prof.seeds_for(row.name)).items():
            if row_complete(run, config=config, data=data, augmented=augmented):
                continue
            parameters = {"store": run.store, "row": name, "config": to_dict(config), "device": prof.device}
            parameters |= {key: ref.model_dump() for key, ref in vars(data).items()}
            if augmented is not None:
                parameters["augmented"] = augmented.model_dump()
            launches.append(_Launch(name=name, parameters=parameters))
    if launches:
        check_deployment(deployment)
    return [
        launch_row.with_options(task_run_name=f"launch-{item.name}").submit(
            deployment=deployment, row=item.name, parameters=item.parameters, worker_wait_s=prof.pool_wait_s
        )
        for item in launches
    ]


def await_rows(futures: list) -> None:
    """Wait for every submitted row; a failure raises after all have ended."""
    wait(futures)
    for future in futures:
        future.result()
