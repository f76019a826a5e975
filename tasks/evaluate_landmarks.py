"""The ``evaluate_landmarks`` stage: predict the test split with a trained row's ``best.pt`` and publish the
per-face errors (one manifest row per face, with subset flags) plus ``metrics.csv`` / ``metrics.md``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.device import resolve_device
from landmark_core.evaluate import evaluate_faces, metric_table, write_metric_files
from landmark_core.subsets import SUBSETS
from landmark_core.train import BEST, load_checkpoint
from tasks.dataset_tree import split_records


@dataclass(frozen=True)
class EvaluateConfig:
    """Which split is evaluated."""

    split: str = "test"


@stage(version=2, gpu=True)
def evaluate_landmarks(
    *,
    config: EvaluateConfig,
    ctx: StageContext,
    dataset: StageOutput,
    index: StageOutput,
    subsets: StageOutput,
    trained: StageOutput,
) -> StageResult:
    """Per-face errors of the trained model on ``config.split`` and the metric table of every subset."""
    device = resolve_device(ctx.runtime.device)
    model, train_config, _ = load_checkpoint(trained.local_dir() / BEST, device=device)
    records = split_records(dataset=dataset, index=index, split=config.split)
    with torch.inference_mode():
        per_face = evaluate_faces(
            model=model,
            records=records,
            subsets=subsets.manifest(),
            augment=train_config.augment,
            device=device,
            batch_size=train_config.eval_batch_size,
            decoding=train_config.decoding,
            on_progress=ctx.report,
        )
    table = metric_table(per_face=per_face, subsets=SUBSETS)
    write_metric_files(table=table, out=ctx.work, title=f"{trained.stage}/{trained.key} on {config.split}")
    return StageResult(manifest=per_face, info={"full": table.loc["full"].to_dict(), "device": str(device)})
