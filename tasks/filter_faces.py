"""The ``filter_faces`` stage: the study's keep rules, and the aligned 1024x1024 images of the kept faces.

Each detection is matched to the WFLW face of its image with the largest IoU and kept when the overlap and
size rules pass; only kept faces are resampled to the aligned image (pixels for faces that are dropped would
be wasted), and every dropped detection is in the quarantine with the reason.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.align import AlignConfig, render_aligned
from gan_core.face_filter import FilterConfig, filter_detection
from gan_core.photo import load_photo
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.config import from_dict
from tasks.align import record_of
from tasks.dataset_tree import dataset_root

ALIGNED_DIR = "aligned"
BOX_COLUMNS = ["bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"]


@stage(version=2)
def filter_faces(
    *, config: FilterConfig, ctx: StageContext, dataset: StageOutput, index: StageOutput, aligned: StageOutput
) -> StageResult:
    """Keep the detections that overlap a WFLW face and are large enough; write their aligned images."""
    detections, faces = aligned.manifest(), index.manifest()
    root = dataset_root(dataset)
    by_image = {image: group for image, group in faces.groupby("image_path")}
    alignment = from_dict(AlignConfig, aligned.metadata()["config"]["align"])
    kept, dropped = [], []
    for _, det in detections.iterrows():
        wflw = by_image.get(det["image_path"], faces.iloc[:0])
        boxes = wflw[BOX_COLUMNS].to_numpy(dtype=float)
        decision = filter_detection(box=np.asarray(det["det_box"], float), wflw_boxes=boxes, config=config)
        face_id = None if decision.wflw_index is None else wflw["face_id"].iloc[decision.wflw_index]
        match = {"wflw_face_id": face_id, "iou": decision.iou}
        if decision.kept:
            kept.append({**det.to_dict(), **match, "aligned_path": _write_aligned(ctx.work, root, det, alignment)})
        else:
            reason = {"det_pixels": det["det_pixels"], "reason": decision.reason}
            dropped.append({"detection_id": det["detection_id"], **match, **reason})
    manifest = pd.DataFrame(kept, columns=[*detections.columns, "wflw_face_id", "iou", "aligned_path"])
    quarantine = pd.DataFrame(dropped, columns=["detection_id", "wflw_face_id", "iou", "det_pixels", "reason"])
    reasons = quarantine["reason"].str.split(":").str[0].value_counts().to_dict()
    info = {"kept": len(manifest), "dropped": len(quarantine), "dropped_by_reason": reasons}
    return StageResult(manifest=manifest, quarantine=quarantine, info=info)


def _write_aligned(work: Path, root: Path, det: pd.Series, config: AlignConfig) -> str:
    """Render one kept face's aligned image into the stage's work directory; returns its relative path."""
    photo, _ = load_photo(root / det["image_path"])
    image = render_aligned(image=photo, record=record_of(det, output_size=config.output_size), config=config)
    relative = f"{ALIGNED_DIR}/{safe_name(det['detection_id'])}.png"
    (work / ALIGNED_DIR).mkdir(exist_ok=True)
    cv2.imwrite(str(work / relative), image)
    return relative


def safe_name(detection_id: str) -> str:
    """A file name for a detection id (``a/b.jpg#0`` -> ``a__b.jpg_0``)."""
    return detection_id.replace("/", "__").replace("#", "_")
