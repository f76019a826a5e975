"""Landmarks on any photo or video with a trained model: find the faces, crop them as the evaluation does, write
98 landmarks per face in the photo's pixels (WFLW order) and an overlay.

Faces come from the project's dlib detector (HOG, upsampled once, and its 68-point predictor): a detection's box
is the box of its 68 landmarks widened by 5 % each side, the same shape of box the WFLW annotations give (jaw,
brows; the twin's boxes are made that way), so the crop matches training. ``boxes`` (a CSV of ``image, x_min,
y_min, x_max, y_max``) replaces the detector; with WFLW's own boxes the landmarks are the evaluation's.

Per input ``<stem>``: ``<stem>.csv`` and ``<stem>.json`` (one row per face: ``frame``, ``face``, the box and
``x0, y0, ... x97, y97``) and ``<stem>.overlay.jpg`` (or ``.overlay.mp4`` for a video). Inputs that cannot be
read and photos or frames without a face are rows of ``skipped.csv`` with the reason, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from landmark_core.atomic import atomic_write_text
from landmark_core.face_crops import crop_faces, predict_crops
from landmark_core.image_size import DEFAULT_MAX_PIXELS, ImageSizeError, check_pixels, image_size
from landmark_core.predict import to_photo
from landmark_core.train_config import TrainConfig

IMAGES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEOS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
BOX_PAD = 0.05
POINT_COLUMNS = [f"{axis}{i}" for i in range(98) for axis in "xy"]
BOX_COLUMNS = ["x_min", "y_min", "x_max", "y_max"]


@dataclass(frozen=True)
class Predictor:
    """A trained model ready to run on photos.

    Attributes:
        model: the network (eval mode).
        config: its run's training config (crop, decoding).
        device: where it runs.
        detect: image (H, W, 3) uint8 BGR -> (N, 4) boxes; None when boxes are given.
    """

    model: torch.nn.Module
    config: TrainConfig
    device: torch.device
    detect: Callable[[np.ndarray], np.ndarray] | None = None

    def landmarks(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 98, 2) photo-pixel landmarks of the faces in ``boxes`` (N, 4)."""
        crops, matrices = crop_faces(image=image, boxes=boxes, augment=self.config.augment)
        _, points = predict_crops(model=self.model, crops=crops, decoding=self.config.decoding, device=self.device)
        return to_photo(points=points, matrices=matrices)


def dlib_boxes() -> Callable[[np.ndarray], np.ndarray]:
    """The project's dlib detector as a box function: each face's 68-landmark box, widened by 5 % a side."""
    from gan_core.detect import DlibFaceDetector

    detector = DlibFaceDetector(upsample=1)

    def detect(image: np.ndarray) -> np.ndarray:
        found = detector.detect(image_rgb=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        boxes = [landmark_box(d.landmarks68) for d in sorted(found, key=lambda d: d.box[0])]
        return np.array(boxes, dtype=float).reshape(-1, 4)

    return detect


def landmark_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """The box of ``points`` (K, 2), widened by ``BOX_PAD`` of its size on each side."""
    lo, hi = points.min(0), points.max(0)
    pad = BOX_PAD * (hi - lo)
    return (*(lo - pad), *(hi + pad))


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files as given, folders as the photos and videos inside them (recursively, sorted)."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGES + VIDEOS)
        else:
            found.append(path)
    return found


def read_boxes(path: Path) -> dict[str, np.ndarray]:
    """A boxes CSV (``image`` as a file name or path, and ``x_min, y_min, x_max, y_max``) by image.

    Raises:
        ValueError: a missing column or a non-numeric box (one line naming the file).
    """
    table = pd.read_csv(path)
    missing = [c for c in ["image", *BOX_COLUMNS] if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        values = table[BOX_COLUMNS].to_numpy(dtype=float)
    except ValueError:
        raise ValueError(f"{path}: box columns must be numbers") from None
    by_image: dict[str, list] = {}
    for image, box in zip(table["image"].astype(str), values, strict=True):
        by_image.setdefault(image, []).append(box)
    return {image: np.array(boxes) for image, boxes in by_image.items()}


def read_photo(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A photo as (H, W, 3) uint8 BGR, turned upright by its EXIF orientation (as the evaluation reads photos).

    Raises:
        ValueError: unreadable, truncated, not an image, or larger than ``max_pixels`` (one line).
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        check_pixels(image_size(path), max_pixels=max_pixels)
    except ImageSizeError as error:
        raise ValueError(f"{path}: {error}") from None
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: cannot decode image")
    return image


def face_rows(points: np.ndarray, boxes: np.ndarray, *, frame: int = 0) -> list[dict]:
    """One output row per face: frame, face number, box, 196 coordinates."""
    return [
        {
            "frame": frame,
            "face": k,
            **dict(zip(BOX_COLUMNS, map(float, box), strict=True)),
            **dict(zip(POINT_COLUMNS, map(float, pts.reshape(-1)), strict=True)),
        }
        for k, (pts, box) in enumerate(zip(points, boxes, strict=True))
    ]


def draw_overlay(image: np.ndarray, points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``image`` with each face's box and 98 landmarks drawn (a copy)."""
    out = image.copy()
    scale = max(1, round(max(image.shape[:2]) / 600))
    for pts, box in zip(points, boxes, strict=True):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 160, 0), scale)
        for x, y in pts:
            cv2.circle(out, (int(round(x)), int(round(y))), scale + 1, (0, 230, 0), -1, cv2.LINE_AA)
    return out


def smooth_tracks(previous: np.ndarray | None, current: np.ndarray, *, alpha: float) -> np.ndarray:
    """Exponential smoothing of a video's landmarks: each face follows the previous frame's face nearest to it
    (by mean landmark); a face with no earlier face keeps its own points.

    Shapes: previous (M, 98, 2) or None, current (N, 98, 2) -> (N, 98, 2).
    """
    if previous is None or not len(previous) or not len(current):
        return current
    centres = previous.mean(1)
    out = current.copy()
    for k, pts in enumerate(current):
        nearest = int(np.argmin(np.linalg.norm(centres - pts.mean(0), axis=1)))
        out[k] = alpha * pts + (1 - alpha) * previous[nearest]
    return out


def _frames(path: Path) -> Iterator[tuple[int, np.ndarray, float]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"{path}: cannot open video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frame = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            yield frame, image, fps
            frame += 1
    finally:
        capture.release()
    if frame == 0:
        raise ValueError(f"{path}: no frame could be decoded")


def _write_tables(out: Path, stem: str, rows: list[dict]) -> None:
    table = pd.DataFrame(rows, columns=["frame", "face", *BOX_COLUMNS, *POINT_COLUMNS])
    atomic_write_text(out / f"{stem}.csv", table.to_csv(index=False))
    atomic_write_text(out / f"{stem}.json", json.dumps(table.to_dict("records")) + "\n")


def boxes_for(predictor: Predictor, image: np.ndarray, path: Path, given: dict[str, np.ndarray] | None) -> np.ndarray:
    """The faces of ``image``: the given boxes of its path or file name (none when absent), else the detector's."""
    if given is None:
        return predictor.detect(image)
    return given.get(str(path), given.get(path.name, np.zeros((0, 4))))


def predict_photo(predictor: Predictor, path: Path, out: Path, given: dict[str, np.ndarray] | None) -> list[dict]:
    """Landmarks of one photo's faces into ``out``; returns the skipped rows (unreadable, no face)."""
    try:
        image = read_photo(path)
    except ValueError as error:
        return [{"input": str(path), "frame": "", "reason": str(error).removeprefix(f"{path}: ")}]
    boxes = boxes_for(predictor, image, path, given)
    points = predictor.landmarks(image, boxes) if len(boxes) else np.zeros((0, 98, 2))
    _write_tables(out, path.stem, face_rows(points, boxes))
    overlay = draw_overlay(image, points, boxes)
    if not cv2.imwrite(str(out / f"{path.stem}.overlay.jpg"), overlay, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"{out / path.stem}.overlay.jpg: cannot write")
    reason = "no face found" if given is None else "no box given for it"
    return [] if len(boxes) else [{"input": str(path), "frame": "", "reason": reason}]


def predict_video(
    predictor: Predictor, path: Path, out: Path, *, smooth: float | None, on_frame: Callable[[], None] | None = None
) -> list[dict]:
    """Landmarks of every frame's faces, and an overlay video; returns the skipped rows (frames without a face)."""
    rows, skipped, writer, previous = [], [], None, None
    try:
        for frame, image, fps in _frames(path):
            boxes = predictor.detect(image)
            points = predictor.landmarks(image, boxes) if len(boxes) else np.zeros((0, 98, 2))
            if smooth is not None and len(points):
                points = previous = smooth_tracks(previous, points, alpha=smooth)
            if not len(boxes):
                skipped.append({"input": str(path), "frame": frame, "reason": "no face found"})
            rows += face_rows(points, boxes, frame=frame)
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(
                    str(out / f"{path.stem}.overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size
                )
            writer.write(draw_overlay(image, points, boxes))
            if on_frame is not None:
                on_frame()
    except ValueError as error:
        return [{"input": str(path), "frame": "", "reason": str(error).removeprefix(f"{path}: ")}]
    finally:
        if writer is not None:
            writer.release()
    _write_tables(out, path.stem, rows)
    return skipped


def frame_count(path: Path) -> int:
    """The number of frames a video says it has (0 when unknown)."""
    capture = cv2.VideoCapture(str(path))
    try:
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def predict_inputs(
    predictor: Predictor,
    inputs: list[Path],
    out: Path,
    *,
    given: dict[str, np.ndarray] | None = None,
    smooth: float | None = None,
    on_step: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """Every photo and video of ``inputs`` into ``out``; the skipped list (also ``out/skipped.csv``).

    ``on_step`` is called after each photo and each video frame (a progress bar).
    """
    out.mkdir(parents=True, exist_ok=True)
    skipped = []
    for path in inputs:
        if path.suffix.lower() in VIDEOS:
            if given is not None:
                skipped.append({"input": str(path), "frame": "", "reason": "boxes are given for photos only"})
                continue
            skipped += predict_video(predictor, path, out, smooth=smooth, on_frame=on_step)
        else:
            skipped += predict_photo(predictor, path, out, given)
            if on_step is not None:
                on_step()
    table = pd.DataFrame(skipped, columns=["input", "frame", "reason"])
    atomic_write_text(out / "skipped.csv", table.to_csv(index=False))
    return table
