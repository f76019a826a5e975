"""Landmarks on any photo or video with a trained model: find the faces, crop them as the evaluation does, write
98 landmarks per face in the photo's pixels (WFLW order) and an overlay.

Faces come from the project's dlib detector (HOG, upsampled once, and its 68-point predictor): a detection's box
is the box of its 68 landmarks widened by 5 % each side, the same shape of box the WFLW annotations give (jaw,
brows; the twin's boxes are made that way), so the crop matches training. ``boxes`` (a CSV of ``image, x_min,
y_min, x_max, y_max``) replaces the detector; with WFLW's own boxes the landmarks are the evaluation's.

Which files are inputs and what each writes: ``elt_models.inputs``; given boxes: ``elt_models.boxes``. Inputs
that cannot be read, photos or frames without a face, given boxes that do not fit the photo and faces whose
landmarks are not finite are rows of ``skipped.csv`` with the reason, never an error.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from elt_models.boxes import BOX_COLUMNS, GivenBoxes, fitting_boxes
from elt_models.inputs import VIDEOS, output_names, skip_row
from landmark_core.atomic import atomic_write_text
from landmark_core.face_crops import crop_faces, landmark_box, predict_crops
from landmark_core.image_size import DEFAULT_MAX_PIXELS, ImageSizeError, check_pixels, image_size
from landmark_core.predict import to_photo
from landmark_core.train_config import TrainConfig

POINT_COLUMNS = [f"{axis}{i}" for i in range(98) for axis in "xy"]


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


def read_photo(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A photo as (H, W, 3) uint8 BGR, turned upright by its EXIF orientation (as the evaluation reads photos).

    Its header is read first (``landmark_core.image_size``): nothing larger than ``max_pixels``, of a format
    whose size cannot be read without decoding, or not an image, is ever decoded.

    Raises:
        ValueError: missing, unreadable (permissions), truncated, not an image, or larger than ``max_pixels``
            (one line).
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        check_pixels(image_size(path), max_pixels=max_pixels)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except ImageSizeError as error:
        raise ValueError(f"{path}: {error}") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read the file ({error.strerror or error})") from None
    except cv2.error as error:
        raise ValueError(f"{path}: cannot decode image ({str(error).strip().splitlines()[-1]})") from None
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


def _write_tables(out: Path, name: str, rows: list[dict]) -> None:
    table = pd.DataFrame(rows, columns=["frame", "face", *BOX_COLUMNS, *POINT_COLUMNS])
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{name}.csv", table.to_csv(index=False))
    atomic_write_text(out / f"{name}.json", json.dumps(table.to_dict("records")) + "\n")


@dataclass(frozen=True)
class PhotoFaces:
    """Where an input's faces come from: the detector, or the boxes CSV (and how the input is named there).

    Attributes:
        given: the boxes CSV read, or None (the detector finds the faces).
        name: the input's output name (a key the CSV may use).
        shared_name: another input has the same file name (the bare name then matches neither).
    """

    given: GivenBoxes | None
    name: str
    shared_name: bool = False


def face_boxes(predictor: Predictor, image: np.ndarray, path: Path, faces: PhotoFaces) -> tuple[np.ndarray, list[str]]:
    """The faces of ``image`` (N, 4), and the reasons for given boxes left out (or for no box at all).

    With boxes given, the input's boxes (by path as named, output name, or unique file name) that fit the photo
    (``fitting_boxes``); else the detector's, with "no face found" when it finds none.
    """
    if faces.given is None:
        boxes = predictor.detect(image)
        return boxes, [] if len(boxes) else ["no face found"]
    key = faces.given.find(path, name=faces.name, shared_name=faces.shared_name)
    if key is None:
        several = faces.shared_name and path.name in faces.given.boxes
        hint = f" ({faces.given.source} names {path.name}, a name several inputs have: use their paths)"
        return np.zeros((0, 4)), [f"no box given for it{hint if several else ''}"]
    height, width = image.shape[:2]
    return fitting_boxes(faces.given.boxes[key], faces.given.lines[key], width=width, height=height)


def finite_faces(points: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The faces whose landmarks are all finite (points (N, 98, 2), boxes (N, 4)); a reason per face left out."""
    finite = np.isfinite(points).all(axis=(1, 2))
    reasons = [f"face {k}: the model gave non-finite landmarks" for k in np.flatnonzero(~finite)]
    return points[finite], boxes[finite], reasons


def predict_photo(predictor: Predictor, path: Path, out: Path, faces: PhotoFaces) -> tuple[list[dict], int | None]:
    """Landmarks of one photo's faces into ``out`` (as ``faces.name``); the skipped rows and the faces written
    (None: the photo could not be read, nothing was written)."""
    try:
        image = read_photo(path)
    except ValueError as error:
        return [skip_row(path, str(error).removeprefix(f"{path}: "))], None
    boxes, reasons = face_boxes(predictor, image, path, faces)
    points = predictor.landmarks(image, boxes) if len(boxes) else np.zeros((0, 98, 2))
    points, boxes, broken = finite_faces(points, boxes)
    _write_tables(out, faces.name, face_rows(points, boxes))
    overlay = draw_overlay(image, points, boxes)
    if not cv2.imwrite(str(out / f"{faces.name}.overlay.jpg"), overlay, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"{out / faces.name}.overlay.jpg: cannot write")
    return [skip_row(path, reason) for reason in reasons + broken], len(boxes)


def predict_video(
    predictor: Predictor,
    path: Path,
    out: Path,
    *,
    name: str | None = None,
    smooth: float | None,
    on_frame: Callable[[], None] | None = None,
) -> tuple[list[dict], int | None]:
    """Landmarks of every frame's faces, and an overlay video (as ``name``, default the file name); the skipped
    rows (frames without a face) and the faces written (None: the video could not be read)."""
    name = name or path.name
    rows, skipped, writer, previous = [], [], None, None
    try:
        for frame, image, fps in _frames(path):
            boxes = predictor.detect(image)
            points = predictor.landmarks(image, boxes) if len(boxes) else np.zeros((0, 98, 2))
            points, boxes, broken = finite_faces(points, boxes)
            if smooth is not None and len(points):
                points = previous = smooth_tracks(previous, points, alpha=smooth)
            skipped += [skip_row(path, reason, frame) for reason in ([] if len(boxes) else ["no face found"]) + broken]
            rows += face_rows(points, boxes, frame=frame)
            if writer is None:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(str(out / f"{name}.overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            writer.write(draw_overlay(image, points, boxes))
            if on_frame is not None:
                on_frame()
    except ValueError as error:
        return [skip_row(path, str(error).removeprefix(f"{path}: "))], None
    finally:
        if writer is not None:
            writer.release()
    _write_tables(out, name, rows)
    return skipped, len(rows)


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
    given: GivenBoxes | None = None,
    smooth: float | None = None,
    on_step: Callable[[], None] | None = None,
    skipped: list[dict] | None = None,
) -> pd.DataFrame:
    """Every photo and video of ``inputs`` into ``out``, each under its output name (``output_names``).

    Args:
        predictor: the model (and detector, unless ``given``).
        inputs: photos and videos, each once (``find_inputs``).
        out: the output folder (created).
        given: boxes from a CSV instead of the detector (photos only).
        smooth: smoothing of video landmarks (the new frame's weight), or None.
        on_step: called after each photo and each video frame (a progress bar).
        skipped: rows already skipped while finding the inputs; they head ``skipped.csv``.

    Returns:
        The skipped list (also ``out/skipped.csv``), with ``attrs["faces"]`` the faces written and
        ``attrs["written"]`` the inputs whose outputs were written.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows, faces, written = list(skipped or []), 0, 0
    names = output_names(inputs)
    counts = Counter(path.name for path in inputs)
    for path in inputs:
        if path.suffix.lower() in VIDEOS:
            if given is not None:
                rows.append(skip_row(path, "boxes are given for photos only"))
                continue
            lines, found = predict_video(predictor, path, out, name=names[path], smooth=smooth, on_frame=on_step)
        else:
            where = PhotoFaces(given=given, name=names[path], shared_name=counts[path.name] > 1)
            lines, found = predict_photo(predictor, path, out, where)
            if on_step is not None:
                on_step()
        rows += lines
        faces += found or 0
        written += found is not None
    table = pd.DataFrame(rows, columns=["input", "frame", "reason"])
    atomic_write_text(out / "skipped.csv", table.to_csv(index=False))
    table.attrs.update(faces=faces, written=written)
    return table
