"""One experiment row as cached stage tasks: train, then evaluate. Shared by ``reproduce`` (rows in its own
process) and ``train_experiment`` (a row on a GPU worker), which imports only this, not the whole graph."""

from __future__ import annotations

from flows.refs import DataRefs, RowRefs
from kit.prefect_stage import StageRef, StageRunner
from landmark_core.train_config import TrainConfig
from tasks.evaluate_landmarks import EvaluateConfig, evaluate_landmarks
from tasks.train_landmarks import train_landmarks


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
