"""Index a WFLW root into one table of faces plus a quarantine of the lines that could not be used.

``faces`` has one row per face (columns in FACE_COLUMNS); ``quarantine`` one row per rejected line
(QUARANTINE_COLUMNS) with the reason. Nothing is dropped silently: every non-blank annotation line ends up
in exactly one of the two tables (subset-file lines that match a face only add memberships).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_core.image_size import DEFAULT_MAX_PIXELS, ImageSizeError, check_pixels, image_size
from landmark_core.wflw import (
    ATTRIBUTES,
    IMAGES_DIR,
    OUTER_EYE_CORNERS,
    SPLITS,
    TEST_SUBSET_FILES,
    WflwFace,
    WflwFormatError,
    iter_lines,
    parse_rect_attr_line,
    parse_subset_line,
    rect_attr_path,
    subset_file_path,
)

SUBSET_COLUMNS: tuple[str, ...] = tuple(f"in_{name}" for name in TEST_SUBSET_FILES)
FACE_COLUMNS: tuple[str, ...] = (
    "face_id",
    "split",
    "source",
    "line",
    "image_path",
    "image_width",
    "image_height",
    "bbox_x_min",
    "bbox_y_min",
    "bbox_x_max",
    "bbox_y_max",
    "bbox_clipped",
    "landmarks",
    *ATTRIBUTES,
    *SUBSET_COLUMNS,
)
QUARANTINE_COLUMNS: tuple[str, ...] = ("source", "line", "raw", "reason")


@dataclass(frozen=True)
class IndexResult:
    """The two tables written by ``eltrepro data index``.

    Attributes:
        faces: one row per usable face; ``landmarks`` holds 196 floats (x0, y0, ..., x97, y97).
        quarantine: one row per rejected line: source file (relative to the root), line number, raw line, reason.
    """

    faces: pd.DataFrame
    quarantine: pd.DataFrame


def landmarks_array(faces: pd.DataFrame) -> np.ndarray:
    """The ``landmarks`` column as an array.

    Returns:
        (N, 98, 2) float64 pixel xy.
    """
    if len(faces) == 0:
        return np.zeros((0, 98, 2))
    return np.stack([np.asarray(v, dtype=np.float64) for v in faces["landmarks"]]).reshape(len(faces), 98, 2)


def _face_key(image: str, landmarks: np.ndarray) -> tuple:
    return image, tuple(np.round(landmarks.reshape(-1), 3))


def _face_id(split: str, image: str, face: WflwFace) -> str:
    digest = hashlib.sha1(f"{image}|{np.round(face.bbox, 2).tolist()}".encode())
    digest.update(np.round(face.landmarks, 3).tobytes())
    return f"{split}-{digest.hexdigest()[:16]}"


class _ImageSizes:
    """Reads each image's header once; remembers its (width, height) or why it cannot be used."""

    def __init__(self, root: Path, max_pixels: int) -> None:
        self.root = root
        self.max_pixels = max_pixels
        self.cache: dict[str, tuple[int, int] | str] = {}

    def __call__(self, image: str) -> tuple[int, int] | str:
        if image not in self.cache:
            path = self.root / IMAGES_DIR / image
            if ".." in Path(image).parts or Path(image).is_absolute():
                self.cache[image] = f"image path escapes {IMAGES_DIR}/: {image}"
            elif not path.is_file():
                self.cache[image] = f"missing image: {IMAGES_DIR}/{image}"
            else:
                try:
                    self.cache[image] = image_size(path)
                    check_pixels(self.cache[image], max_pixels=self.max_pixels)
                except (ImageSizeError, OSError) as error:
                    self.cache[image] = f"unreadable image: {IMAGES_DIR}/{image} ({error})"
        return self.cache[image]


MIN_INTER_OCULAR_PX = 1.0  # below this the NME's normaliser is meaningless (all points at one place)


def _check_landmarks(face: WflwFace) -> str | None:
    """The reason a face's landmarks cannot be measured (NME divides by the outer-eye-corner distance), or None."""
    a, b = OUTER_EYE_CORNERS
    distance = float(np.linalg.norm(face.landmarks[a] - face.landmarks[b]))
    if distance < MIN_INTER_OCULAR_PX:
        return f"degenerate landmarks: inter-ocular distance (points {a}-{b}) is {distance:.2f} px"
    return None


def _check_bbox(face: WflwFace, width: int, height: int) -> tuple[str | None, bool]:
    """(reason to quarantine or None, whether the box sticks out of the image and was kept)."""
    x0, y0, x1, y1 = face.bbox
    if x1 <= x0 or y1 <= y0:
        return f"empty bbox {face.bbox}", False
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return f"bbox {face.bbox} lies outside the {width}x{height} image", False
    return None, bool(x0 < 0 or y0 < 0 or x1 > width or y1 > height)


def _index_split(root: Path, split: str, sizes: Callable, quarantine: list[dict]) -> list[dict]:
    path = rect_attr_path(root, split)
    source = path.relative_to(root).as_posix()
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for number, raw in iter_lines(path):
        reason, row = None, None
        try:
            face = parse_rect_attr_line(raw)
        except WflwFormatError as error:
            reason = str(error)
        if reason is None:
            reason = _check_landmarks(face)
        if reason is None:
            size = sizes(face.image)
            reason = size if isinstance(size, str) else None
        if reason is None:
            reason, clipped = _check_bbox(face, *size)
        if reason is None:
            face_id = _face_id(split, face.image, face)
            if face_id in seen:
                reason = f"duplicate of line {seen[face_id]} (same image, bbox and landmarks)"
            else:
                seen[face_id] = number
                row = _face_row(face, face_id=face_id, split=split, source=source, line=number, size=size)
                row["bbox_clipped"] = clipped
        if reason is not None:
            quarantine.append({"source": source, "line": number, "raw": raw, "reason": reason})
        else:
            rows.append(row)
    return rows


def _face_row(face: WflwFace, *, face_id: str, split: str, source: str, line: int, size: tuple[int, int]) -> dict:
    row = {
        "face_id": face_id,
        "split": split,
        "source": source,
        "line": line,
        "image_path": f"{IMAGES_DIR}/{face.image}",
        "image_width": size[0],
        "image_height": size[1],
        "bbox_x_min": face.bbox[0],
        "bbox_y_min": face.bbox[1],
        "bbox_x_max": face.bbox[2],
        "bbox_y_max": face.bbox[3],
        "landmarks": face.landmarks.reshape(-1).tolist(),
    }
    row.update({name: int(flag) for name, flag in zip(ATTRIBUTES, face.attributes, strict=True)})
    return row


def _apply_test_subsets(root: Path, rows: list[dict], quarantine: list[dict]) -> None:
    """Set ``in_<subset>`` for test rows from the list_98pt_test files (flags when the files are absent)."""
    by_key = {_face_key(r["image_path"][len(IMAGES_DIR) + 1 :], np.asarray(r["landmarks"])): r for r in rows}
    for subset in TEST_SUBSET_FILES:
        column = f"in_{subset}"
        path = subset_file_path(root, subset)
        if not path.is_file():
            for r in rows:
                r[column] = subset == "full" or r[subset] == 1
            continue
        for r in rows:
            r[column] = False
        source = path.relative_to(root).as_posix()
        for number, raw in iter_lines(path):
            try:
                landmarks, image = parse_subset_line(raw)
            except WflwFormatError as error:
                quarantine.append({"source": source, "line": number, "raw": raw, "reason": str(error)})
                continue
            match = by_key.get(_face_key(image, landmarks))
            if match is None:
                reason = "matches no usable face of list_98pt_rect_attr_test.txt (same image and landmarks)"
                quarantine.append({"source": source, "line": number, "raw": raw, "reason": reason})
            else:
                match[column] = True


def index_wflw(*, root: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> IndexResult:
    """Read a WFLW root (``WFLW_images/`` + ``WFLW_annotations/``) into faces and quarantine tables.

    Train faces belong to ``full`` and to each attribute subset whose flag is set; test faces take their
    memberships from the ``list_98pt_test`` files (from the flags where those files are absent).

    Args:
        root: folder holding ``WFLW_images`` and ``WFLW_annotations``.
        max_pixels: photos larger than this (read from the header, never decoded) are quarantined.

    Returns:
        IndexResult with ``faces`` (FACE_COLUMNS) and ``quarantine`` (QUARANTINE_COLUMNS).

    Raises:
        FileNotFoundError: neither split's rect+attr file exists under ``root``.
    """
    root = Path(root)
    present = [s for s in SPLITS if rect_attr_path(root, s).is_file()]
    if not present:
        raise FileNotFoundError(f"no WFLW annotation file under {root} (expected {rect_attr_path(root, 'train')})")
    sizes = _ImageSizes(root, max_pixels)
    quarantine: list[dict] = []
    faces: list[dict] = []
    for split in present:
        rows = _index_split(root, split, sizes, quarantine)
        if split == "test":
            _apply_test_subsets(root, rows, quarantine)
        else:
            for r in rows:
                r.update({f"in_{s}": s == "full" or r[s] == 1 for s in TEST_SUBSET_FILES})
        faces.extend(rows)
    faces_df = pd.DataFrame(faces, columns=list(FACE_COLUMNS))
    for column in SUBSET_COLUMNS:
        faces_df[column] = faces_df[column].astype(bool)
    return IndexResult(faces=faces_df, quarantine=pd.DataFrame(quarantine, columns=list(QUARANTINE_COLUMNS)))
