"""One experiment row as its own flow: train, then evaluate. The unit a GPU worker runs.

``reproduce`` runs every row either in its own process (``local=True``, the demo default) or as flow runs of
the ``train-experiment`` deployment on the GPU work pool (``run_deployment``), so rows spread over the pool's
workers. A global concurrency limit (``eltrepro-gpu``, created with ``prefect gcl create``) caps how many
rows train at once across all workers; without the limit the flow runs unthrottled.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.concurrency.sync import concurrency

from landmark_core.train import TrainConfig
from tasks.prefect_stages import StageRef, cached

DEPLOYMENT = "train-experiment/train-experiment"
GPU_LIMIT = "eltrepro-gpu"


def train_row(
    tasks: dict[str, Any],
    *,
    store: str,
    row: str,
    config: TrainConfig,
    data: dict[str, StageRef],
    device: str,
    augmented: StageRef | None = None,
) -> dict[str, StageRef]:
    """Train and evaluate one row with the cached stage tasks; returns ``{"trained", "evaluated"}``.

    ``augmented`` (the GAN branch's relit faces, for relit rows) is optional: None trains on WFLW alone.
    """
    trained = tasks["train"].with_options(task_run_name=f"train-{row}")(
        store=store, dataset=data["dataset"], index=data["index"], config=config, device=device, row=row,
        augmented=augmented)  # fmt: skip
    evaluated = tasks["evaluate"].with_options(task_run_name=f"evaluate-{row}")(
        store=store, dataset=data["dataset"], index=data["index"], subsets=data["subsets"], trained=trained,
        device=device)  # fmt: skip
    return {"trained": trained, "evaluated": evaluated}


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
) -> dict[str, StageRef]:
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
        ``{"trained": StageRef, "evaluated": StageRef}``.
    """
    data = {"dataset": dataset, "index": index, "subsets": subsets}
    run = {"store": store, "row": row, "config": config, "data": data, "device": device, "augmented": augmented}
    if gpu_limit is None:
        return train_row(cached(store), **run)
    with concurrency(gpu_limit, occupy=1):
        return train_row(cached(store), **run)
