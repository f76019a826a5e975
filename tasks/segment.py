"""The ``segment`` stage: the face mask of every kept aligned face, from the trained segmenter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.segment import SegmenterConfig, resize_for_net
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.config import from_dict
from tasks.segment_train import WEIGHTS, tf_environment

MASKS_DIR = "masks"


@dataclass(frozen=True)
class SegmentConfig:
    """A pixel is face when the segmenter's probability is at least ``threshold``."""

    threshold: float = 0.5


@stage(version=2)
def segment(*, config: SegmentConfig, ctx: StageContext, filtered: StageOutput, trained: StageOutput) -> StageResult:
    """The face mask of every kept aligned face (PNG, 0/255, at the aligned image's size)."""
    tf_environment()
    from gan_core.segment import build_segmenter, predict_masks

    network = from_dict(SegmenterConfig, trained.metadata()["config"]["network"])
    model = build_segmenter(config=network)
    model.load_weights(trained.local_dir() / WEIGHTS)
    faces, folder = filtered.manifest(), filtered.local_dir()
    rows = []
    (ctx.work / MASKS_DIR).mkdir()
    for _, face in faces.iterrows():
        aligned = cv2.cvtColor(cv2.imread(str(folder / face["aligned_path"])), cv2.COLOR_BGR2RGB)
        batch = resize_for_net(image=aligned, size=network.input_size)[None]
        prob = predict_masks(model=model, images_rgb=batch)[0]
        side = aligned.shape[0]
        face_pixels = cv2.resize(prob, (side, side), interpolation=cv2.INTER_LINEAR) >= config.threshold
        mask = face_pixels.astype(np.uint8) * 255
        relative = f"{MASKS_DIR}/{Path(face['aligned_path']).stem}.png"
        cv2.imwrite(str(ctx.work / relative), mask)
        rows.append(
            {"detection_id": face["detection_id"], "mask_path": relative, "face_fraction": float(face_pixels.mean())}
        )
    return StageResult(manifest=pd.DataFrame(rows, columns=["detection_id", "mask_path", "face_fraction"]))
