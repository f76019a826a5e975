"""GAN-branch geometry stages: ``align`` (dlib detection + FFHQ alignment record) and ``filter`` (the study's keep
rules, and the aligned 1024x1024 images of the kept faces). Thin adapters over ``gan_core``.

``align`` looks at every image of one split that has a WFLW face and records every detection with its 68
landmarks and the alignment transform (quad in photo pixels, shrink, crop, pad); images that cannot be read
or hold no detection go to its quarantine with the reason. ``filter`` matches each detection to the WFLW face
of its image with the largest IoU and keeps it when the overlap and the size rules pass; only kept faces are
resampled to the aligned image (pixels for faces that are dropped would be wasted), and every dropped
detection is in its quarantine with the reason.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.align import AlignConfig, AlignRecord, plan_alignment, render_aligned
from gan_core.detect import DlibFaceDetector
from gan_core.face_filter import FilterConfig, filter_detection
from gan_core.photo import PhotoError, load_photo
from landmark_core.config import from_dict
from tasks.data import DATASET_DIR
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage

ALIGN = StageSpec(name="align", version=1, modules=("gan_core.detect", "gan_core.align", "gan_core.homography",
                                                     "gan_core.photo", "tasks.gan"))  # fmt: skip
FILTER = StageSpec(name="filter", version=1, modules=("gan_core.face_filter", "gan_core.align", "gan_core.homography",
                                                      "gan_core.photo", "tasks.gan"))  # fmt: skip
ALIGNED_DIR = "aligned"


@dataclass(frozen=True)
class DetectParams:
    """What the align stage looks at and how.

    Attributes:
        split: the WFLW split whose images are searched (the relit faces join training).
        upsample: dlib detector upsampling (1 in the study).
        max_images: look at only the first N images (sorted by path); 0 = all. The demo profile's budget.
        align: the FFHQ alignment the records are planned for (the filter stage renders with it).
    """

    split: str = "train"
    upsample: int = 1
    max_images: int = 0
    align: AlignConfig = field(default_factory=AlignConfig)


@dataclass(frozen=True)
class FilterParams:
    """The filter stage's keep rules (the aligned images follow the align stage's ``AlignConfig``)."""

    rules: FilterConfig = field(default_factory=FilterConfig)


_DETECTOR: DlibFaceDetector | None = None


def _detect_image(job: tuple[str, str, int, AlignConfig]) -> tuple[list[dict], str | None]:
    """Detections of one image as manifest rows, or the reason the image is quarantined."""
    global _DETECTOR
    root, image_rel, upsample, config = job
    if _DETECTOR is None or _DETECTOR.upsample != upsample:
        _DETECTOR = DlibFaceDetector(upsample=upsample)
    try:
        photo, mode = load_photo(Path(root) / image_rel)
    except PhotoError as err:
        return [], str(err).replace(str(Path(root)) + "/", "")
    found = _DETECTOR.detect(image_rgb=cv2.cvtColor(photo, cv2.COLOR_BGR2RGB))
    if not found:
        return [], "no face detected"
    rows = []
    for k, det in enumerate(found):
        record = plan_alignment(width=photo.shape[1], height=photo.shape[0], landmarks68=det.landmarks68,
                                config=config)  # fmt: skip
        rows.append({"detection_id": f"{image_rel}#{k}", "image_path": image_rel, "source_mode": mode,
                     "image_width": photo.shape[1], "image_height": photo.shape[0], "det_score": det.score,
                     "det_box": list(det.box), "det_pixels": det.pixels,
                     "landmarks68": det.landmarks68.ravel().tolist(),
                     **_record_columns(record)})  # fmt: skip
    return rows, None


def _record_columns(record: AlignRecord) -> dict:
    return {"quad": np.ravel(record.quad).tolist(), "qsize": record.qsize, "shrink": record.shrink,
            "crop": list(record.crop), "pad": list(record.pad)}  # fmt: skip


def align_stage(
    *, store: Store, dataset: StageOutput, index: StageOutput, params: DetectParams = DetectParams(), workers: int = 1
) -> tuple[StageOutput, bool]:
    """Detect and record the FFHQ alignment of every face in the split's images."""

    def compute(work: Path) -> StageResult:
        faces = index.manifest()
        images = sorted(faces.loc[faces["split"] == params.split, "image_path"].unique())
        images = images[: params.max_images] if params.max_images else images
        root = str(dataset.local_dir() / DATASET_DIR)
        jobs = [(root, image, params.upsample, params.align) for image in images]
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(_detect_image, jobs, chunksize=4))
        else:
            results = [_detect_image(job) for job in jobs]
        rows = [row for found, _ in results for row in found]
        quarantine = pd.DataFrame([{"image_path": image, "reason": reason}
                                   for image, (_, reason) in zip(images, results, strict=True) if reason],
                                  columns=["image_path", "reason"])  # fmt: skip
        manifest = pd.DataFrame(rows)
        info = {"images": len(images), "images_with_detection": len(images) - len(quarantine),
                "detections": len(manifest)}  # fmt: skip
        return StageResult(manifest=manifest, quarantine=quarantine, info=info)

    return run_stage(store=store, spec=ALIGN, params=params, inputs={"dataset": dataset, "index": index},
                     compute=compute)  # fmt: skip


def record_of(row: pd.Series | dict, *, output_size: int) -> AlignRecord:
    """The alignment record stored in an ``align`` manifest row."""
    quad = np.asarray(row["quad"], dtype=float).reshape(4, 2)
    return AlignRecord(quad=tuple(map(tuple, quad.tolist())), qsize=float(row["qsize"]), shrink=int(row["shrink"]),
                       crop=tuple(int(v) for v in row["crop"]), pad=tuple(int(v) for v in row["pad"]),
                       output_size=output_size)  # fmt: skip


def filter_stage(
    *,
    store: Store,
    dataset: StageOutput,
    index: StageOutput,
    aligned: StageOutput,
    params: FilterParams = FilterParams(),
) -> tuple[StageOutput, bool]:
    """Keep the detections that overlap a WFLW face and are large enough; write their aligned images."""

    def compute(work: Path) -> StageResult:
        detections, faces = aligned.manifest(), index.manifest()
        root = dataset.local_dir() / DATASET_DIR
        by_image = {image: group for image, group in faces.groupby("image_path")}
        config = from_dict(AlignConfig, aligned.metadata()["params"]["align"])
        kept, dropped = [], []
        for _, det in detections.iterrows():
            wflw = by_image.get(det["image_path"], faces.iloc[:0])
            boxes = wflw[["bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"]].to_numpy(dtype=float)
            decision = filter_detection(box=np.asarray(det["det_box"], float), wflw_boxes=boxes, config=params.rules)
            match = {"wflw_face_id": None if decision.wflw_index is None else wflw["face_id"].iloc[decision.wflw_index],
                     "iou": decision.iou}  # fmt: skip
            if not decision.kept:
                dropped.append({"detection_id": det["detection_id"], **match, "det_pixels": det["det_pixels"],
                                "reason": decision.reason})  # fmt: skip
                continue
            kept.append({**det.to_dict(), **match, "aligned_path": _write_aligned(work, root, det, config)})
        manifest = pd.DataFrame(kept, columns=[*detections.columns, "wflw_face_id", "iou", "aligned_path"])
        quarantine = pd.DataFrame(dropped, columns=["detection_id", "wflw_face_id", "iou", "det_pixels", "reason"])
        reasons = quarantine["reason"].str.split(":").str[0].value_counts().to_dict()
        info = {"kept": len(manifest), "dropped": len(quarantine), "dropped_by_reason": reasons}
        return StageResult(manifest=manifest, quarantine=quarantine, info=info)

    inputs = {"dataset": dataset, "index": index, "aligned": aligned}
    return run_stage(store=store, spec=FILTER, params=params, inputs=inputs, compute=compute)


def _write_aligned(work: Path, root: Path, det: pd.Series, config: AlignConfig) -> str:
    """Render one kept face's aligned image into the stage's work directory; returns its relative path."""
    photo, _ = load_photo(root / det["image_path"])
    image = render_aligned(image=photo, record=record_of(det, output_size=config.output_size), config=config)
    relative = f"{ALIGNED_DIR}/{_safe_name(det['detection_id'])}.png"
    (work / ALIGNED_DIR).mkdir(exist_ok=True)
    cv2.imwrite(str(work / relative), image)
    return relative


def _safe_name(detection_id: str) -> str:
    return detection_id.replace("/", "__").replace("#", "_")
