"""Landmark stages: train one experiment row, evaluate it. Thin adapters over ``landmark_core``.

``train_landmarks`` reads the dataset and index outputs, trains with ``landmark_core.train.train`` and
publishes the run folder (``best.pt``, ``last.pt``, ``config.json``, ``history.jsonl``) with one manifest row
per epoch. Training can take hours, so checkpoints go to the store's scratch area for the stage key first: a
crashed or cancelled run that is started again resumes from its last epoch instead of from scratch. The
device is not part of the key (a CPU and a GPU run of one config are the same experiment).

``evaluate_landmarks`` predicts the test split with the trained ``best.pt`` and publishes the per-face
errors (one manifest row per face, with subset flags) plus ``metrics.csv`` / ``metrics.md``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from landmark_core.dataset import face_records
from landmark_core.evaluate import evaluate_faces, metric_table, write_metric_files
from landmark_core.subsets import SUBSETS
from landmark_core.train import (
    BEST,
    CONFIG_FILE,
    HISTORY_FILE,
    LAST,
    EpochRecord,
    TrainConfig,
    load_checkpoint,
    resolve_device,
    split_validation,
    train,
)
from tasks.data import DATASET_DIR
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage, stage_key

_MODEL_MODULES = ("landmark_core.augment", "landmark_core.sampler", "landmark_core.geometry", "landmark_core.model",
                  "landmark_core.dataset", "landmark_core.predict", "landmark_core.wflw")  # fmt: skip
_TRAIN_MODULES = ("landmark_core.heatmap", "landmark_core.losses", "landmark_core.train", "tasks.landmarks")
TRAIN = StageSpec(name="train_landmarks", version=1, modules=(*_MODEL_MODULES, *_TRAIN_MODULES))
EVALUATE = StageSpec(
    name="evaluate_landmarks", version=1, modules=(*_MODEL_MODULES, "landmark_core.metrics", "landmark_core.evaluate")
)
RUN_FILES = (BEST, LAST, CONFIG_FILE, HISTORY_FILE)


@dataclass(frozen=True)
class TrainParams:
    """What a training output depends on besides its inputs: the full config (a relit row adds an input)."""

    config: TrainConfig


@dataclass(frozen=True)
class EvaluateParams:
    """Which split is evaluated."""

    split: str = "test"


def _records(dataset: StageOutput, index: StageOutput, split: str):
    faces = index.manifest()
    return face_records(root=dataset.local_dir() / DATASET_DIR, faces=faces[faces["split"] == split])


def _augmented_records(augmented: StageOutput, *, exclude: set[str]):
    """The augmented faces as training records, without those made from an ``exclude``d (validation) face."""
    faces = augmented.manifest()
    if "source_face_id" not in faces.columns:
        raise ValueError(f"{augmented.stage}/{augmented.key}: an augmented set needs a source_face_id column")
    faces = faces[~faces["source_face_id"].astype(str).isin(exclude)]
    return face_records(root=augmented.local_dir(), faces=faces)


def train_stage(
    *,
    store: Store,
    dataset: StageOutput,
    index: StageOutput,
    config: TrainConfig,
    device: str = "auto",
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    augmented: StageOutput | None = None,
) -> tuple[StageOutput, bool]:
    """Train one configuration on the train split (validation: a seeded part of it) and publish the run.

    ``augmented`` is optional: an output of extra training faces (the GAN branch's relit faces) whose manifest
    has the index's columns (``image_path`` relative to that output) and ``source_face_id``. Its faces join
    the training part, except those made from a validation face (that would leak the validation set).
    """
    params = TrainParams(config=config)
    inputs = {"dataset": dataset, "index": index} | ({"augmented": augmented} if augmented is not None else {})
    scratch = store.scratch(TRAIN.name, stage_key(spec=TRAIN, params=params, inputs=inputs))

    def compute(work: Path) -> StageResult:
        train_part, val = split_validation(records=_records(dataset, index, "train"), fraction=config.val_fraction,
                                           seed=config.seed)  # fmt: skip
        extra = _augmented_records(augmented, exclude={r.face_id for r in val}) if augmented is not None else []
        train_part = train_part + extra
        history = train(config=config, train_records=train_part, val_records=val, out=scratch,
                        device=resolve_device(device), resume=True, on_epoch=on_epoch, on_batch=on_batch)  # fmt: skip
        for name in RUN_FILES:
            shutil.copy2(scratch / name, work / name)
        best = min(history, key=lambda r: r.val_nme)
        info = {"epochs": len(history), "best_epoch": best.epoch, "best_val_nme": best.val_nme,
                "train_faces": len(train_part), "val_faces": len(val), "augmented_faces": len(extra)}  # fmt: skip
        return StageResult(manifest=pd.DataFrame([r.__dict__ for r in history]), info=info)

    output, computed = run_stage(store=store, spec=TRAIN, params=params, inputs=inputs, compute=compute)
    shutil.rmtree(scratch, ignore_errors=True)  # published (or found complete): the checkpoints live in the output
    return output, computed


def evaluate_stage(
    *,
    store: Store,
    dataset: StageOutput,
    index: StageOutput,
    subsets: StageOutput,
    trained: StageOutput,
    split: str = "test",
    device: str = "auto",
) -> tuple[StageOutput, bool]:
    """Per-face errors of the trained model on ``split`` and the metric table of every subset."""

    def compute(work: Path) -> StageResult:
        target = resolve_device(device)
        model, config, _ = load_checkpoint(trained.local_dir() / BEST, device=target)
        records = _records(dataset, index, split)
        with torch.inference_mode():
            per_face = evaluate_faces(model=model, records=records, subsets=subsets.manifest(), augment=config.augment,
                                      device=target, batch_size=config.eval_batch_size)  # fmt: skip
        table = metric_table(per_face=per_face, subsets=SUBSETS)
        write_metric_files(table=table, out=work, title=f"{trained.stage}/{trained.key} on {split}")
        return StageResult(manifest=per_face, info={"full": table.loc["full"].to_dict()})

    inputs = {"dataset": dataset, "index": index, "subsets": subsets, "trained": trained}
    return run_stage(store=store, spec=EVALUATE, params=EvaluateParams(split=split), inputs=inputs, compute=compute)
