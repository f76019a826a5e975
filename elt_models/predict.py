"""Landmarks on any photo or video with a trained model: find the faces, crop them as the evaluation does, write
98 landmarks per face in the photo's pixels (WFLW order) and an overlay.

Faces come from the project's dlib detector (HOG, upsampled once, and its 68-point predictor): a detection's box
is the box of its 68 landmarks widened by 5 % each side, the same shape of box the WFLW annotations give (jaw,
brows; the twin's boxes are made that way), so the crop matches training. ``boxes`` (a CSV of ``image, x_min,
y_min, x_max, y_max``) replaces the detector; with WFLW's own boxes the landmarks are the evaluation's.

Inputs (``find_inputs``): files as named (any name; the content decides), folders as every file below them. A
file in a folder whose suffix is no photo or video's, a broken link, a link loop, a link to a folder, something
that is not a regular file (a pipe, a device) and a file named twice are each a row of ``skipped.csv`` with the
reason. A link to a regular file is followed wherever it points (inside the folder or outside it: the user put
it there, and reads it with their own rights); a link to a folder is not, so a walk never loops or repeats.

Outputs are named per input so that none replaces another: an input's name is its path relative to the folder
that holds every input (``output_names``), its suffix kept, and it writes ``<name>.csv`` and ``<name>.json``
(one row per face: ``frame``, ``face``, the box and ``x0, y0, ... x97, y97``) and ``<name>.overlay.jpg`` (or
``.overlay.mp4`` for a video) under the output folder, in the inputs' own folder structure: ``a/x.jpg`` and
``b/x.jpg`` write ``a/x.jpg.csv`` and ``b/x.jpg.csv``, ``x.jpg`` and ``x.png`` ``x.jpg.csv`` and ``x.png.csv``.
Inputs that cannot be read, photos or frames without a face, given boxes that do not fit the photo and faces
whose landmarks are not finite are rows of ``skipped.csv`` with the reason, never an error.

Given boxes are checked twice. ``read_boxes`` refuses the file (``ValueError``, one line naming its CSV line)
when a box is not four finite numbers with ``x_max - x_min`` and ``y_max - y_min`` at least one pixel; per
photo, a box that reaches more than ``BOX_MARGIN`` of the photo's width (height) past its left or right (top
or bottom) edge is skipped with its reason: a face cut by the border is fine, a box far outside is a mistake
(and would ask the crop for a gigantic warp). A box row names its image by the path as given on the command
line, by the input's output name, or by the bare file name when no other input has that name.
"""

from __future__ import annotations

import errno
import json
import os
from collections import Counter
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

# Suffixes a folder's photos have: the formats whose size is read before decoding (landmark_core.image_size).
IMAGES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".gif", ".pbm", ".pgm", ".ppm")
IMAGES += (".pnm", ".sr", ".ras", ".jp2", ".avif")
VIDEOS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
BOX_PAD = 0.05
BOX_MARGIN = 0.5  # a given box may reach past each edge of the photo by half the photo's width (height)
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


@dataclass(frozen=True)
class FoundInputs:
    """What ``find_inputs`` made of the paths a user named.

    Attributes:
        files: the photos and videos to process, each once, in the order named (folders sorted).
        skipped: rows of ``skipped.csv`` (``input``, ``frame``, ``reason``) for everything else named or found.
    """

    files: list[Path]
    skipped: list[dict]


def find_inputs(paths: list[Path], *, exclude: Path | None = None) -> FoundInputs:
    """Every file the user named, and every file below a named folder, as an input or a skipped row.

    Args:
        paths: files and folders as named (a named link is followed, also to a folder).
        exclude: a folder not to read (the output folder, when it lies inside a named one).

    Returns:
        The inputs and the skipped rows (see the module's notes on links, suffixes and repeats).
    """
    files: list[Path] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    skip_dir = os.path.abspath(exclude) if exclude is not None else None
    for path in paths:
        problem = _link_problem(path) or (None if path.exists() else "no such file or folder")
        if problem:
            skipped.append(_skip(path, problem))
        elif path.is_dir():
            _walk(path, files, skipped, skip_dir)
        elif path.is_file():
            files.append(path)
        else:
            skipped.append(_skip(path, "not a regular file"))
    unique = []
    for path in files:
        key = os.path.abspath(path)
        if key in seen:
            skipped.append(_skip(path, "named twice (processed once)"))
        else:
            seen.add(key)
            unique.append(path)
    return FoundInputs(files=unique, skipped=skipped)


def _skip(path: Path, reason: str, frame: int | str = "") -> dict:
    return {"input": str(path), "frame": frame, "reason": reason}


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be read (dangling, a loop), or None (not a link, or a good one)."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except FileNotFoundError:
        return f"broken link (its target {os.readlink(path)} does not exist)"
    except OSError as error:  # ELOOP, or a target one cannot reach
        return "link loop" if error.errno == errno.ELOOP else f"unreadable link ({error.strerror})"
    return None


def _walk(folder: Path, files: list[Path], skipped: list[dict], skip_dir: str | None) -> None:
    """Files below ``folder`` (sorted, not into linked folders) into ``files``, the rest into ``skipped``."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        skipped.append(_skip(folder, f"cannot list the folder ({error.strerror})"))
        return
    for entry in entries:
        problem = _link_problem(entry)
        if problem:
            skipped.append(_skip(entry, problem))
        elif entry.is_dir():
            if entry.is_symlink():
                skipped.append(_skip(entry, "link to a folder (not followed; name the folder itself)"))
            elif skip_dir is not None and os.path.abspath(entry) == skip_dir:
                skipped.append(_skip(entry, "the output folder (not read)"))
            else:
                _walk(entry, files, skipped, skip_dir)
        elif not entry.is_file():
            skipped.append(_skip(entry, "not a regular file"))
        elif entry.suffix.lower() in IMAGES + VIDEOS:
            files.append(entry)
        else:
            skipped.append(_skip(entry, f"not a photo or video ({entry.suffix or 'no suffix'})"))


def output_names(inputs: list[Path]) -> dict[Path, str]:
    """Each input's output name: its path relative to the folder holding every input, suffix kept (POSIX).

    Distinct inputs (by absolute path) get distinct names, and no name is ``skipped`` (``skipped.csv`` is the
    skipped list's): such an input is named ``skipped.input``.
    """
    if not inputs:
        return {}
    absolute = [os.path.abspath(p) for p in inputs]
    root = os.path.commonpath([os.path.dirname(a) for a in absolute])
    names = {}
    for path, full in zip(inputs, absolute, strict=True):
        name = Path(os.path.relpath(full, root)).as_posix()
        names[path] = "skipped.input" if name == "skipped" else name
    return names


def output_files(inputs: list[Path], out: Path) -> list[Path]:
    """Every file ``predict_inputs`` would write for ``inputs`` under ``out`` (to refuse replacing them)."""
    planned = [out / "skipped.csv"]
    for path, name in output_names(inputs).items():
        overlay = ".overlay.mp4" if path.suffix.lower() in VIDEOS else ".overlay.jpg"
        planned += [out / f"{name}{ending}" for ending in (".csv", ".json", overlay)]
    return planned


@dataclass(frozen=True)
class GivenBoxes:
    """A boxes CSV read and checked: each image's boxes and the CSV line of each.

    Attributes:
        source: the CSV's path (named in reasons).
        boxes: image (as the CSV names it) -> (N, 4) x_min, y_min, x_max, y_max.
        lines: image -> the CSV line (1 is the header) of each of its boxes.
    """

    source: Path
    boxes: dict[str, np.ndarray]
    lines: dict[str, list[int]]

    def find(self, path: Path, *, name: str, shared_name: bool) -> str | None:
        """The CSV's key for the input ``path`` (output name ``name``), or None when it gives no box for it.

        The bare file name counts only when no other input has it (``shared_name`` False).
        """
        for key in (str(path), name, *(() if shared_name else (path.name,))):
            if key in self.boxes:
                return key
        return None


def read_boxes(path: Path) -> GivenBoxes:
    """A boxes CSV (``image`` as a file name or path, and ``x_min, y_min, x_max, y_max``), checked.

    Raises:
        ValueError: an unreadable or malformed file, a missing column, a row without an image, a box that is not
            four finite numbers or is less than a pixel wide or high (one line naming the file and its line).
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:  # permissions, not UTF-8, empty, not a table
        reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0]
        raise ValueError(f"{path}: cannot read the boxes ({reason})") from None
    missing = [c for c in ["image", *BOX_COLUMNS] if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    values = np.full((len(table), 4), np.nan)
    for k, column in enumerate(BOX_COLUMNS):
        values[:, k] = pd.to_numeric(table[column], errors="coerce")
    boxes: dict[str, list] = {}
    lines: dict[str, list[int]] = {}
    for row, (image, box) in enumerate(zip(table["image"], values, strict=True)):
        problem = "no image" if not image.strip() else _box_problem(box, table.loc[row, BOX_COLUMNS].tolist())
        if problem:
            raise ValueError(f"{path} line {row + 2}: {problem}")
        boxes.setdefault(image, []).append(box)
        lines.setdefault(image, []).append(row + 2)
    return GivenBoxes(source=path, boxes={k: np.array(v) for k, v in boxes.items()}, lines=lines)


def _box_problem(box: np.ndarray, raw: list) -> str | None:
    """Why a box read from a CSV is not a box (``raw`` is its cells as written), or None."""
    if not np.isfinite(box).all():
        bad = next(c for c, v, r in zip(BOX_COLUMNS, box, raw, strict=True) if not np.isfinite(v))
        cell = raw[BOX_COLUMNS.index(bad)]
        return f"{bad} = {cell!r} is not a finite number" if cell.strip() else f"{bad} is empty"
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        return f"box {_box_text(box)} must be at least a pixel wide and high (x_max > x_min, y_max > y_min)"
    return None


def _box_text(box: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"


def fitting_boxes(boxes: np.ndarray, lines: list[int], *, width: int, height: int) -> tuple[np.ndarray, list[str]]:
    """The boxes that fit a ``width`` x ``height`` photo within ``BOX_MARGIN``, and why each other one does not.

    Args:
        boxes: (N, 4) x_min, y_min, x_max, y_max (finite, positive size: ``read_boxes`` checked).
        lines: the CSV line of each box (named in the reasons).
        width: the photo's width (as decoded, upright).
        height: its height.

    Returns:
        The (M, 4) boxes kept and one reason per box left out.
    """
    lo = np.array([-BOX_MARGIN * width, -BOX_MARGIN * height] * 2)
    hi = np.array([(1 + BOX_MARGIN) * width, (1 + BOX_MARGIN) * height] * 2)
    inside = ((boxes >= lo) & (boxes <= hi)).all(axis=1)
    reasons = [
        f"box {_box_text(box)} of line {line} lies outside the {width}x{height} photo by more than "
        f"{BOX_MARGIN:.0%} of its size"
        for box, line, fits in zip(boxes, lines, inside, strict=True)
        if not fits
    ]
    return boxes[inside].reshape(-1, 4), reasons


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
        return [_skip(path, str(error).removeprefix(f"{path}: "))], None
    boxes, reasons = face_boxes(predictor, image, path, faces)
    points = predictor.landmarks(image, boxes) if len(boxes) else np.zeros((0, 98, 2))
    points, boxes, broken = finite_faces(points, boxes)
    _write_tables(out, faces.name, face_rows(points, boxes))
    overlay = draw_overlay(image, points, boxes)
    if not cv2.imwrite(str(out / f"{faces.name}.overlay.jpg"), overlay, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"{out / faces.name}.overlay.jpg: cannot write")
    return [_skip(path, reason) for reason in reasons + broken], len(boxes)


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
            skipped += [_skip(path, reason, frame) for reason in ([] if len(boxes) else ["no face found"]) + broken]
            rows += face_rows(points, boxes, frame=frame)
            if writer is None:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(str(out / f"{name}.overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            writer.write(draw_overlay(image, points, boxes))
            if on_frame is not None:
                on_frame()
    except ValueError as error:
        return [_skip(path, str(error).removeprefix(f"{path}: "))], None
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
                rows.append(_skip(path, "boxes are given for photos only"))
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
