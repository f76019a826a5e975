"""The twin landmark model: the project's landmark network trained on FFHQ-aligned twin faces at the GAN's size.

It finds landmarks on the GAN branch's pictures (a projection, a relit face) so they can be compared with the
face's true landmarks; its error on the true faces themselves is the floor such a drift is read against. One
training lives in a folder: ``data/`` (the faces as a WFLW root, ``gan_core.twin_wflw``), ``run/`` (the
project's training: ``best.pt``, ``history.jsonl``), ``check/`` (the same settings' first steps on the first
``CHECK_FACES`` faces: losses a test computes again from the seed). Training faces are portraits
``0 .. train_faces - 1`` (the GAN's own); test faces start at ``TEST_SEED``, apart from the GAN's and from the
benchmark's held-out faces.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_core.twin_wflw import write_twin_wflw
from landmark_core.dataset import face_records
from landmark_core.evaluate import evaluate_faces
from landmark_core.subsets import compute_subsets
from landmark_core.train import BEST, EpochRecord, split_validation, train
from landmark_core.train_config import TrainConfig
from landmark_core.wflw import rect_attr_path
from landmark_core.wflw_index import index_wflw

TEST_SEED = 1_500_000  # the landmark model's test faces: neither GAN training faces nor the benchmark's
CHECK_FACES = 64  # faces of the check run
CHECK_STEPS = 4  # its optimiser steps


@dataclass(frozen=True)
class TwinLandmarkResult:
    """What a training left.

    Attributes:
        checkpoint: the best checkpoint (``run/best.pt``).
        history: one record per epoch.
        test_nme: the mean inter-ocular NME on the test faces (a fraction).
        check_loss: the mean loss of the check run's steps.
    """

    checkpoint: Path
    history: list[EpochRecord]
    test_nme: float
    check_loss: float


def train_twin_landmarks(
    *, config: TrainConfig, folder: Path, train_faces: int, test_faces: int, device: torch.device
) -> TwinLandmarkResult:
    """Write the faces (once), train (resuming a stopped run), evaluate on the test faces, run the check.

    Args:
        config: the training settings; its ``augment.size`` is the faces' resolution.
        folder: the training's folder (created).
        train_faces: training portraits (a tenth of them validate).
        test_faces: test portraits.
        device: where to train.
    """
    data = folder / "data"
    if not rect_attr_path(data, "test").is_file():
        train_seeds, test_seeds = range(train_faces), range(TEST_SEED, TEST_SEED + test_faces)
        write_twin_wflw(out=data, train_seeds=train_seeds, test_seeds=test_seeds, resolution=config.augment.size)
    history = _fit(config=config, data=data, out=folder / "run", device=device)
    return TwinLandmarkResult(
        checkpoint=folder / "run" / BEST,
        history=history,
        test_nme=twin_test_nme(checkpoint=folder / "run" / BEST, data=data, device=device),
        check_loss=check_run(config=config, folder=folder / "check", device=device),
    )


def write_model_file(*, checkpoint: Path, path: Path) -> Path:
    """The network's weights and training config alone (``model``, ``config``: what ``load_checkpoint`` reads),
    without the optimiser's state: the file that is committed, a third of the checkpoint's size."""
    from landmark_core.weights_file import load_weights_file

    full = load_weights_file(checkpoint, what="checkpoint")
    partial = path.with_name(f".{path.name}.partial")
    torch.save({"model": full["model"], "config": full["config"]}, partial)
    partial.replace(path)
    return path


def check_run(*, config: TrainConfig, folder: Path, device: torch.device) -> float:
    """The mean loss of the first ``CHECK_STEPS`` steps of ``config`` on the first ``CHECK_FACES`` training faces
    (rendered into ``folder/data``): a number the settings, the seed and the code alone determine."""
    data = folder / "data"
    if not rect_attr_path(data, "test").is_file():
        write_twin_wflw(
            out=data,
            train_seeds=range(CHECK_FACES),
            test_seeds=range(TEST_SEED, TEST_SEED + 2),
            resolution=config.augment.size,
        )
    short = dataclasses.replace(config, max_epochs=1, max_steps=CHECK_STEPS)
    return _fit(config=short, data=data, out=folder / "run", device=device, resume=False)[0].loss


def _fit(*, config: TrainConfig, data: Path, out: Path, device: torch.device, resume: bool = True):
    faces = index_wflw(root=data).faces
    records = face_records(root=data, faces=faces[faces["split"] == "train"])
    fit, val = split_validation(records=records, fraction=config.val_fraction, seed=config.seed)
    return train(config=config, train_records=fit, val_records=val, out=out, device=device, resume=resume)


def twin_test_nme(*, checkpoint: Path, data: Path, device: torch.device) -> float:
    """The checkpoint's mean inter-ocular NME on the test faces of a twin WFLW root (a fraction)."""
    from landmark_core.train import load_checkpoint

    model, config, _ = load_checkpoint(checkpoint, device=device)
    faces = index_wflw(root=data).faces
    test = faces[faces["split"] == "test"]
    per_face = evaluate_faces(
        model=model,
        records=face_records(root=data, faces=test),
        subsets=compute_subsets(faces=test),
        augment=config.augment,
        device=device,
        batch_size=config.eval_batch_size,
        decoding=config.decoding,
    )
    return float(per_face["nme"].mean())
