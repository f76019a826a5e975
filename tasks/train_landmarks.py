"""The ``train_landmarks`` stage: train one experiment row and publish its run folder.

It reads the dataset and index outputs (and, for a relit row, the GAN branch's augmented faces), trains with
``landmark_core.train.train`` and publishes ``best.pt``, ``last.pt``, ``config.json`` and ``history.jsonl``
with one manifest row per epoch. Training can take hours, so checkpoints go to the store's scratch area of
the stage key first: a crashed or cancelled run that is started again resumes from its last epoch. The
device is not part of the key (a CPU and a GPU run of one config are the same experiment), and neither are
timings: the manifest holds what was learnt, ``stage.json`` how long it took.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, replace

import pandas as pd

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.dataset import FaceRecord, face_records
from landmark_core.device import resolve_device
from landmark_core.labelled_split import mark_unlabelled, usable
from landmark_core.train import BEST, CONFIG_FILE, HISTORY_FILE, LAST, EpochRecord, split_validation, train
from landmark_core.train_config import TrainConfig
from tasks.dataset_tree import split_records

RUN_FILES = (BEST, LAST, CONFIG_FILE, HISTORY_FILE)
TIMING_COLUMNS = ("seconds", "images_per_second")  # machine facts: stage.json, never the manifest


def augmented_records(augmented: StageOutput, *, exclude: set[str], unlabelled: set[str] | None = None):
    """The augmented faces as training records, without those made from an ``exclude``d (validation) face;
    those made from an ``unlabelled`` face are unlabelled too (their landmarks are the hidden face's)."""
    faces = augmented.manifest()
    if "source_face_id" not in faces.columns:
        raise ValueError(f"{augmented.stage}/{augmented.key}: an augmented set needs a source_face_id column")
    sources = faces["source_face_id"].astype(str)
    kept = ~sources.isin(exclude)
    records = face_records(root=augmented.local_dir(), faces=faces[kept])
    hidden = sources[kept].isin(unlabelled or set()).tolist()
    return [replace(r, labelled=False) if h else r for r, h in zip(records, hidden, strict=True)]


def training_faces(
    *, config: TrainConfig, train_part: list[FaceRecord], val: list[FaceRecord], augmented: StageOutput | None
) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """The faces a run trains on: the labelled split of the training part (``labelled_fraction``), plus the
    augmented faces (unlabelled when ``augmented_labelled`` is false); unlabelled faces are left out when the
    row has no ELT term to use them. Returns (training faces, augmented faces among them)."""
    train_part = mark_unlabelled(records=train_part, fraction=config.labelled_fraction, seed=config.seed)
    hidden = {r.face_id for r in train_part if not r.labelled}
    extra = []
    if augmented is not None:
        extra = augmented_records(augmented, exclude={r.face_id for r in val}, unlabelled=hidden)
        extra = extra if config.augmented_labelled else [replace(r, labelled=False) for r in extra]
    extra = usable(extra, keep_unlabelled=config.uses_unlabelled)
    keep = usable(train_part, keep_unlabelled=config.uses_unlabelled, repeat=config.repeat_labelled)
    return keep + extra, extra


@stage(version=2, gpu=True)
def train_landmarks(
    *,
    config: TrainConfig,
    ctx: StageContext,
    dataset: StageOutput,
    index: StageOutput,
    augmented: StageOutput | None = None,
) -> StageResult:
    """Train on the train split (validation: a seeded part of it), plus the augmented faces when given.

    ``augmented`` is an output of extra training faces (the GAN branch's relit faces) whose manifest has the
    index's columns (``image_path`` relative to that output) and ``source_face_id``. Its faces join the
    training part, except those made from a validation face (that would leak the validation set). A
    semi-supervised row (``labelled_fraction`` < 1, or ``augmented_labelled`` false) marks faces unlabelled
    (``training_faces``); the validation split and the early-stopping rule stay on labelled faces.
    """
    records = split_records(dataset=dataset, index=index, split="train")
    train_part, val = split_validation(records=records, fraction=config.val_fraction, seed=config.seed)
    train_part, extra = training_faces(config=config, train_part=train_part, val=val, augmented=augmented)
    epochs = [0]

    def on_epoch(record: EpochRecord) -> None:
        epochs[0] = record.epoch + 1  # records count epochs from 0
        ctx.report(epochs[0] / config.max_epochs)

    def on_batch(step: int, steps: int) -> None:
        ctx.report((epochs[0] + step / steps) / config.max_epochs)

    device = resolve_device(ctx.runtime.device)
    history = train(
        config=config,
        train_records=train_part,
        val_records=val,
        out=ctx.scratch,
        device=device,
        resume=True,
        on_epoch=on_epoch,
        on_batch=on_batch,
    )
    for name in RUN_FILES:
        shutil.copy2(ctx.scratch / name, ctx.work / name)
    best = min(history, key=lambda r: r.val_nme)
    rows = pd.DataFrame([asdict(r) for r in history])
    info = {
        "epochs": len(history),
        "best_epoch": best.epoch,
        "best_val_nme": best.val_nme,
        "train_faces": len(train_part),
        "val_faces": len(val),
        "augmented_faces": len(extra),
        "unlabelled_faces": sum(not r.labelled for r in train_part),
        "device": str(device),
        "timing": rows[["epoch", *TIMING_COLUMNS]].to_dict("records"),
    }
    return StageResult(manifest=rows.drop(columns=list(TIMING_COLUMNS)), info=info)
