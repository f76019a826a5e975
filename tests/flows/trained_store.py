"""A store with what ``elt_models.trained_runs`` reads: real tiny training runs and evaluations, and a report-shaped
output naming them (a stand-in stage with the report's name, config ``runs`` and its two input families)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult, Store
from landmark_core.dataset import face_records
from landmark_core.sampler import AugmentConfig
from landmark_core.train import train
from landmark_core.train_config import TrainConfig
from landmark_core.wflw_index import index_wflw
from tests.tiny import TINY_MODEL

TINY_RUN = TrainConfig(model=TINY_MODEL, augment=AugmentConfig(size=32), batch_size=4, max_epochs=1)


@dataclass(frozen=True)
class RunConfig:
    root: str
    seed: int = 0
    config: TrainConfig = field(default_factory=lambda: TINY_RUN)


@stage(version=1)
def train_landmarks(*, config: RunConfig, ctx: StageContext) -> StageResult:
    """A tiny run, one epoch on 16 training faces of the twin at ``root``."""
    faces = index_wflw(root=Path(config.root)).faces
    records = face_records(root=Path(config.root), faces=faces[faces["split"] == "train"].head(20))
    run = replace(config.config, seed=config.seed)
    train(config=run, train_records=records[:16], val_records=records[16:], out=ctx.work, device=torch.device("cpu"))
    return StageResult(manifest=pd.DataFrame({"file": ["best.pt"]}), info={"seed": config.seed})


@dataclass(frozen=True)
class EvalConfig:
    nme: float = 5.0


@stage(version=1)
def evaluate_landmarks(*, config: EvalConfig, ctx: StageContext, trained: StageOutput) -> StageResult:
    """Metrics only."""
    return StageResult(manifest=pd.DataFrame({"face_id": []}), info={"full": {"nme": config.nme, "faces": 12}})


@dataclass(frozen=True)
class ReportLike:
    runs: tuple[tuple[str, str, int], ...] = ()


@stage(version=1)
def report(
    *,
    config: ReportLike,
    ctx: StageContext,
    evaluations: Mapping[str, StageOutput],
    trainings: Mapping[str, StageOutput],
) -> StageResult:
    """Names its runs, as the report does."""
    return StageResult(manifest=pd.DataFrame({"run": [r[0] for r in config.runs]}))


def trained_store(root: Path, twin: Path) -> Store:
    """Rows ``baseline`` (seeds 0, 1) and ``elt`` (seed 0), each trained on ``twin`` and evaluated, and a report."""
    store = Store(str(root))
    runs = (("baseline-seed0", "baseline", 0), ("baseline-seed1", "baseline", 1), ("elt", "elt", 0))
    trainings, evaluations = {}, {}
    for n, (name, _, seed) in enumerate(runs):
        trainings[name], _ = train_landmarks.run(store=store, config=RunConfig(root=str(twin), seed=seed))
        evaluations[name], _ = evaluate_landmarks.run(
            store=store, config=EvalConfig(nme=5.0 + n), trained=trainings[name]
        )
    report.run(store=store, config=ReportLike(runs=runs), evaluations=evaluations, trainings=trainings)
    return store
