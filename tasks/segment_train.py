"""The ``segment_train`` stage: train the VGG16-FCN face segmenter and report its held-out scores.

It trains on face crops with binary face masks: the synthetic twin's own masks (demo profile; the renderer
knows every face's skin region) or LFW Part Labels (thesis profile), and reports pixel accuracy and IoU on a
held-out part. TensorFlow is imported only when the stage runs, with ``TF_ENABLE_ONEDNN_OPTS=0`` (TF 2.21's
oneDNN path aborts on some CPUs) unless the user set it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.lfw_parts import LFW_PARTS_FILES, index_lfw_parts, load_pair
from gan_core.segment import SegmenterConfig, crop_square, face_square, mask_scores, resize_for_net
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.download import fetch_files
from landmark_core.synth.dataset import SYNTH_DIR
from tasks.dataset_tree import dataset_root

WEIGHTS = "segmenter.weights.h5"
TRAINING_DATA = ("twin", "lfw")


@dataclass(frozen=True)
class SegmentTrainConfig:
    """How the segmenter is trained.

    Attributes:
        data: ``twin`` (the synthetic twin's masks; needs the dataset and index inputs) or ``lfw`` (LFW Part
            Labels in ``lfw_dest``).
        network: shape and schedule.
        vgg16_weights: ImageNet VGG16 weights file; None trains from scratch (with a warning).
        lfw_dest: download folder of LFW Part Labels; ``lfw_trust_first_download`` pins unknown digests;
            ``lfw_mirror`` replaces the official base URL.
        holdout: fraction of the twin's faces held out for the scores (LFW uses its own test list).
        max_faces: at most this many training faces (0 = all).
    """

    data: str = "twin"
    network: SegmenterConfig = field(default_factory=SegmenterConfig)
    vgg16_weights: str | None = None
    lfw_dest: str = "data/LFW_parts"
    lfw_trust_first_download: bool = False
    lfw_mirror: str | None = None
    holdout: float = 0.2
    max_faces: int = 0


def tf_environment() -> None:
    """Keep TensorFlow off its oneDNN path and its C++ log quiet unless the user chose otherwise (read by
    TensorFlow when it is first imported, not by us). The C++ log would print start-up notes and an ``E0000``
    line about a graph attribute of tf.data that reads as an error and is none; a real failure still raises."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def twin_pairs(*, dataset: StageOutput, index: StageOutput, size: int) -> tuple[np.ndarray, np.ndarray]:
    """LFW-like crops of the twin's training faces and their true face masks.

    Shapes:
        -> images (N, size, size, 3) uint8 RGB, masks (N, size, size) float32 {0, 1}.
    """
    root = dataset_root(dataset)
    truth_file = root / SYNTH_DIR / "truth_train.parquet"
    if not truth_file.is_file():
        raise FileNotFoundError(f"{truth_file}: no face masks (data = 'twin' needs the synthetic twin)")
    truth = pd.read_parquet(truth_file)[["line", "mask"]]
    faces = index.manifest().query("split == 'train'").merge(truth, on="line")
    images, masks = [], []
    for _, row in faces.iterrows():
        photo = cv2.imread(str(root / row["image_path"]))
        mask = (cv2.imread(str(root / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
        square = face_square(box=(row["bbox_x_min"], row["bbox_y_min"], row["bbox_x_max"], row["bbox_y_max"]))
        images.append(cv2.cvtColor(crop_square(image=photo, square=square, size=size), cv2.COLOR_BGR2RGB))
        masks.append(crop_square(image=mask, square=square, size=size, mask=True))
    return np.stack(images), np.stack(masks).astype(np.float32)


def lfw_pairs(*, config: SegmentTrainConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """LFW Part Labels by split (fetched or verified first), resized to the network input."""
    dest = Path(config.lfw_dest)
    fetch_files(
        files=LFW_PARTS_FILES, dest=dest, mirror=config.lfw_mirror, trust_first_download=config.lfw_trust_first_download
    )
    faces, _ = index_lfw_parts(root=dest)
    size = config.network.input_size
    out = {}
    for split in ("train", "test"):
        pairs = [load_pair(root=dest, face=f) for f in faces if f.split == split]
        images = np.stack([resize_for_net(image=i, size=size) for i, _ in pairs])
        masks = np.stack([resize_for_net(image=m, size=size, mask=True) for _, m in pairs]) / 255.0
        out[split] = (images, masks)
    return out


def _split(config: SegmentTrainConfig, dataset: StageOutput | None, index: StageOutput | None):
    if config.data == "lfw":
        parts = lfw_pairs(config=config)
        return parts["train"], parts["test"]
    if config.data != "twin" or dataset is None or index is None:
        raise ValueError(f"segment_train: data must be 'twin' (with dataset and index) or 'lfw', got {config.data!r}")
    images, masks = twin_pairs(dataset=dataset, index=index, size=config.network.input_size)
    order = np.random.default_rng(config.network.seed).permutation(len(images))
    n_held = max(1, round(config.holdout * len(images)))
    held, train = order[:n_held], order[n_held:]
    train = train[: config.max_faces] if config.max_faces else train
    return (images[train], masks[train]), (images[held], masks[held])


@stage(version=1, gpu=True)
def segment_train(
    *,
    config: SegmentTrainConfig,
    ctx: StageContext,
    dataset: StageOutput | None = None,
    index: StageOutput | None = None,
) -> StageResult:
    """Train the segmenter; publish its weights, the loss per epoch and the held-out pixel accuracy and IoU."""
    tf_environment()
    from gan_core.segment import build_segmenter, predict_masks, train_segmenter

    train, held = _split(config, dataset, index)
    weights = Path(config.vgg16_weights) if config.vgg16_weights else None
    model = build_segmenter(config=config.network, vgg16_weights=weights)
    losses = train_segmenter(model=model, images_rgb=train[0], masks=train[1], config=config.network)
    scores = mask_scores(predicted=predict_masks(model=model, images_rgb=held[0]), truth=held[1])
    model.save_weights(ctx.work / WEIGHTS)
    backbone = "imagenet vgg16" if config.vgg16_weights else "random init (no ImageNet weights given)"
    info = {**scores, "train_faces": len(train[0]), "heldout_faces": len(held[0]), "backbone": backbone}
    if config.vgg16_weights is None:  # the run's log says so (kit.prefect_stage logs an output's warning)
        info["warning"] = "no ImageNet VGG16 weights given (vgg16_weights); the backbone is trained from scratch"
    return StageResult(manifest=pd.DataFrame({"epoch": range(len(losses)), "loss": losses}), info=info)
