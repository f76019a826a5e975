"""One experiment row as its own flow: train, then evaluate. The unit a GPU worker runs.

``reproduce`` runs every row either in its own process (``local=True``, the demo default) or as flow runs of
the ``train-experiment`` deployment on the GPU work pool (``run_deployment``), so rows spread over the pool's
workers. A global concurrency limit (``eltrepro-gpu``, created with ``prefect gcl create``) caps how many
rows train at once across all workers; without the limit the flow runs unthrottled.
"""

from __future__ import annotations

from prefect import flow
from prefect.concurrency.sync import concurrency

from flows.names import GPU_LIMIT
from flows.refs import DataRefs, RowRefs
from flows.rows import train_row
from kit.prefect_stage import StageRef, StageRunner
from kit.stage import Runtime
from landmark_core.train_config import TrainConfig
from tasks.dataset_tree import default_workers


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
