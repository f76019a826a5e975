"""Training rows on the GPU work pool: each unfinished row becomes a flow run of the ``train-experiment``
deployment, started at once and awaited; rows whose training and evaluation are complete are not sent. A run
that no worker takes within the profile's ``pool_wait_s`` is cancelled and fails naming the pool."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prefect import task
from prefect.deployments import run_deployment
from prefect.futures import wait

from flows.experiments import ExperimentRow, row_config
from flows.refs import DataRefs, GanRefs
from flows.run_profile import Profile
from landmark_core.config import to_dict
from landmark_core.train_config import TrainConfig
from tasks.evaluate_landmarks import EvaluateConfig, evaluate_landmarks
from tasks.prefect_stage import StageRef, StageRunner
from tasks.train_landmarks import train_landmarks

DEPLOYMENT = "train-experiment/train-experiment"
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
    """Run one row as a flow run of the ``train-experiment`` deployment and wait for it; returns its id.

    A run that no worker takes within ``worker_wait_s`` is cancelled and the row fails with ``NoWorkerError``
    naming the pool and the command that starts a worker, instead of waiting forever.
    """
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    started = time.monotonic()
    run = run_deployment(name=deployment, parameters=parameters, flow_run_name=f"train-{row}", timeout=0)
    with get_client(sync_client=True) as client:
        while not (run.state and run.state.is_final()):
            waiting = run.state is None or run.state.is_scheduled() or run.state.is_pending()
            if waiting and time.monotonic() - started > worker_wait_s:
                pool = client.read_deployment_by_name(deployment).work_pool_name
                client.set_flow_run_state(run.id, Cancelled(message="no worker took the run"), force=True)
                raise NoWorkerError(
                    f"row {row}: no worker of pool {pool!r} took flow run {run.name} in {worker_wait_s:.0f} s; "
                    f"start one with `prefect worker start --pool {pool}` (or run with --local)"
                )
            time.sleep(POLL_S)
            run = client.read_flow_run(run.id)
    if not run.state.is_completed():
        raise RuntimeError(f"row {row}: flow run {run.name} ({run.id}) ended {run.state.name}")
    return str(run.id)


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
    row: ExperimentRow
    parameters: dict


def launch_rows(
    run: StageRunner, rows: list[ExperimentRow], prof: Profile, data: DataRefs, deployment: str, gan: GanRefs | None
) -> None:
    """Start every unfinished row on the GPU pool at once; wait for all (failures raise after all ended)."""
    launches = []
    for row in rows:
        config = row_config(base=prof.train, row=row)
        augmented = gan.augmented_for(row.relit) if gan and row.relit else None
        if row_complete(run, config=config, data=data, augmented=augmented):
            continue
        parameters = {"store": run.store, "row": row.name, "config": to_dict(config), "device": prof.device}
        parameters |= {name: ref.model_dump() for name, ref in vars(data).items()}
        if augmented is not None:
            parameters["augmented"] = augmented.model_dump()
        launches.append(_Launch(row=row, parameters=parameters))
    if launches:
        check_deployment(deployment)
    futures = [
        launch_row.with_options(task_run_name=f"launch-{item.row.name}").submit(
            deployment=deployment, row=item.row.name, parameters=item.parameters, worker_wait_s=prof.pool_wait_s
        )
        for item in launches
    ]
    wait(futures)
    for future in futures:
        future.result()
