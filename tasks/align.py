"""The ``align`` stage: dlib detection and the FFHQ alignment record of every face of one split's images.

It looks at every image of the split that has a WFLW face and records every detection with its 68 landmarks
and the alignment transform (quad in photo pixels, shrink, crop, pad); images that cannot be read or hold no
detection go to its quarantine with the reason. ``record_of`` reads a record back from a manifest row (the
filter and paste stages render and invert with it).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import pandas as pd
from pydantic import Field

from gan_core.align import AlignConfig, AlignRecord, plan_alignment
from gan_core.detect import DlibFaceDetector
from gan_core.photo import PhotoError, load_photo
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.image_size import DEFAULT_MAX_PIXELS
from tasks.dataset_tree import dataset_root


@dataclass(frozen=True)
class DetectConfig:
    """What the align stage looks at and how.

    Attributes:
        split: the WFLW split whose images are searched (the relit faces join training).
        upsample: dlib detector upsampling (1 in the study).
        max_images: look at only the first N images (sorted by path); 0 = all. The demo profile's budget.
        align: the FFHQ alignment the records are planned for (the filter stage renders with it).
        max_pixels: a photo whose header says it is larger is quarantined without being decoded.
    """

    split: str = "train"
    upsample: int = 1
    max_images: int = 0
    align: AlignConfig = field(default_factory=AlignConfig)
    max_pixels: Annotated[int, Field(gt=0)] = DEFAULT_MAX_PIXELS


_DETECTOR: DlibFaceDetector | None = None


def _detect_image(job: tuple[str, str, int, AlignConfig, int]) -> tuple[list[dict], str | None]:
    """Detections of one image as manifest rows, or the reason the image is quarantined."""
    global _DETECTOR
    root, image_rel, upsample, config, max_pixels = job
    if _DETECTOR is None or _DETECTOR.upsample != upsample:
        _DETECTOR = DlibFaceDetector(upsample=upsample)
    try:
        photo, mode = load_photo(Path(root) / image_rel, max_pixels=max_pixels)
    except PhotoError as err:
        return [], str(err).replace(str(Path(root)) + "/", "")
    found = _DETECTOR.detect(image_rgb=cv2.cvtColor(photo, cv2.COLOR_BGR2RGB))
    if not found:
        return [], "no face detected"
    height, width = photo.shape[:2]
    rows = []
    for k, det in enumerate(found):
        record = plan_alignment(width=width, height=height, landmarks68=det.landmarks68, config=config)
        rows.append(
            {
                "detection_id": f"{image_rel}#{k}",
                "image_path": image_rel,
                "source_mode": mode,
                "image_width": width,
                "image_height": height,
                "det_score": det.score,
                "det_box": list(det.box),
                "det_pixels": det.pixels,
                "landmarks68": det.landmarks68.ravel().tolist(),
                **_record_columns(record),
            }
        )
    return rows, None


def _record_columns(record: AlignRecord) -> dict:
    return {
        "quad": np.ravel(record.quad).tolist(),
        "qsize": record.qsize,
        "shrink": record.shrink,
        "crop": list(record.crop),
        "pad": list(record.pad),
    }


def record_of(row: pd.Series | dict, *, output_size: int) -> AlignRecord:
    """The alignment record stored in an ``align`` manifest row."""
    quad = np.asarray(row["quad"], dtype=float).reshape(4, 2)
    return AlignRecord(
        quad=tuple(map(tuple, quad.tolist())),
        qsize=float(row["qsize"]),
        shrink=int(row["shrink"]),
        crop=tuple(int(v) for v in row["crop"]),
        pad=tuple(int(v) for v in row["pad"]),
        output_size=output_size,
    )


@stage(version=1)
def align(*, config: DetectConfig, ctx: StageContext, dataset: StageOutput, index: StageOutput) -> StageResult:
    """Detect and record the FFHQ alignment of every face in the split's images."""
    faces = index.manifest()
    images = sorted(faces.loc[faces["split"] == config.split, "image_path"].unique())
    images = images[: config.max_images] if config.max_images else images
    root = str(dataset_root(dataset))
    jobs = [(root, image, config.upsample, config.align, config.max_pixels) for image in images]
    if ctx.runtime.workers > 1:
        with ProcessPoolExecutor(max_workers=ctx.runtime.workers) as pool:
            results = list(pool.map(_detect_image, jobs, chunksize=4))
    else:
        results = [_detect_image(job) for job in jobs]
    rows = [row for found, _ in results for row in found]
    reasons = [(image, reason) for image, (_, reason) in zip(images, results, strict=True) if reason]
    quarantine = pd.DataFrame(reasons, columns=["image_path", "reason"])
    manifest = pd.DataFrame(rows)
    info = {"images": len(images), "images_with_detection": len(images) - len(quarantine), "detections": len(rows)}
    return StageResult(manifest=manifest, quarantine=quarantine, info=info)
