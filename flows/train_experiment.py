"""One experiment row as its own flow: train, then evaluate. The unit a GPU worker runs.

``reproduce`` runs every row either in its own process (``local=True``, the demo default) or as flow runs of
the ``train-experiment`` deployment on the GPU work pool (``run_deployment``), so rows spread over the pool's
workers. A global concurrency limit (``eltrepro-gpu``, created with ``prefect gcl create``) caps how many
rows train at once across all workers; without the limit the flow runs unthrottled.
"""

from __future__ import annotations

from prefect import flow
from prefect.concurrency.sync import concurrency

from flows.refs import DataRefs, RowRefs
from landmark_core.train_config import TrainConfig
from tasks.dataset_tree import default_workers
from tasks.evaluate_landmarks import EvaluateConfig, evaluate_landmarks
from tasks.prefect_stage import StageRef, StageRunner
from tasks.stage import Runtime
from tasks.train_landmarks import train_landmarks

DEPLOYMENT = "train-experiment/train-experiment"
GPU_LIMIT = "eltrepro-gpu"


def train_row(
    run: StageRunner, *, row: str, config: TrainConfig, data: DataRefs, augmented: StageRef | None = None
) -> RowRefs:
    """Train and evaluate one row with the cached stage tasks (``augmented``: a relit row's extra faces)."""
    trained = run(train_landmarks, config, label=row, dataset=data.dataset, index=data.index, augmented=augmented)
    evaluated = run(
        evaluate_landmarks,
        EvaluateConfig(),
        label=row,
        dataset=data.dataset,
        index=data.index,
        subsets=data.subsets,
        trained=trained,
    )
    return RowRefs(trained=trained, evaluated=evaluated)


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


@flow(name="train-experiment", flow_run_name="train-{row}")
def train_experiment(
    store: str,
    row: str,
    config: TrainConfig,
    dataset: StageRef,
    index: StageRef,
    subsets: StageRef,
    device: str = "auto",
    gpu_limit: str | None = GPU_LIMIT,
    augmented: StageRef | None = None,
) -> RowRefs:
    """Train and evaluate one experiment row, holding one slot of ``gpu_limit`` while it runs.

    Args:
        store: artifact store shared with the parent flow (an fsspec URL when workers are on other machines).
        row: the matrix row's name (names the runs; not part of any cache key).
        config: the row's full training config.
        dataset, index, subsets: the data stages the parent flow produced.
        device: ``auto``, ``cpu`` or ``cuda[:n]``.
        gpu_limit: global concurrency limit to hold a slot of; None runs unthrottled.
        augmented: the GAN branch's extra training faces for a relit row (None: WFLW alone).

    Returns:
        The row's trained and evaluated stage references.
    """
    run = StageRunner(store=store, runtime=Runtime(device=device, workers=default_workers()))
    data = DataRefs(dataset=dataset, index=index, subsets=subsets)
    if gpu_limit is None:
        return train_row(run, row=row, config=config, data=data, augmented=augmented)
    with concurrency(gpu_limit, occupy=1):
        return train_row(run, row=row, config=config, data=data, augmented=augmented)
