"""The WFLW on-disk annotation format, read and written exactly.

WFLW ships two kinds of annotation file:

* ``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt``: one face per
  line, 207 whitespace-separated fields: 196 landmark coordinates ``x0 y0 ... x97 y97`` (pixel xy, WFLW
  index order), the detection rectangle ``x_min y_min x_max y_max``, six 0/1 attribute flags (pose,
  expression, illumination, make-up, occlusion, blur) and the image path relative to ``WFLW_images/``.
* ``WFLW_annotations/list_98pt_test/list_98pt_test{,_largepose,...}.txt``: the test subsets, one face per
  line, 197 fields: the 196 coordinates and the image path.

Landmark convention used everywhere in the project: pixel coordinates, x to the right, y down, origin at
the top-left corner of the top-left pixel as WFLW annotates, 98 points in WFLW index order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUM_LANDMARKS = 98
ATTRIBUTES: tuple[str, ...] = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
RECT_ATTR_FIELDS = 2 * NUM_LANDMARKS + 4 + len(ATTRIBUTES) + 1  # 207
SUBSET_FIELDS = 2 * NUM_LANDMARKS + 1  # 197

IMAGES_DIR = "WFLW_images"
ANNOTATIONS_DIR = "WFLW_annotations"
RECT_ATTR_DIR = f"{ANNOTATIONS_DIR}/list_98pt_rect_attr_train_test"
TEST_SUBSET_DIR = f"{ANNOTATIONS_DIR}/list_98pt_test"
SPLITS: tuple[str, ...] = ("train", "test")


def _flip_permutation() -> tuple[int, ...]:
    """WFLW's left/right landmark pairs: contour 0..32 reversed, brows, nose, eyes, mouth, pupils."""
    pairs = [(i, 32 - i) for i in range(16)]
    pairs += [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47)]
    pairs += [(55, 59), (56, 58)]
    pairs += [(60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73)]
    pairs += [(76, 82), (77, 81), (78, 80), (83, 87), (84, 86), (88, 92), (89, 91), (93, 95), (96, 97)]
    perm = list(range(NUM_LANDMARKS))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


# After a horizontal mirror, landmark j of the mirrored face is landmark FLIP_PERMUTATION[j] of the original.
FLIP_PERMUTATION: tuple[int, ...] = _flip_permutation()
# The outer eye corners (NME normaliser, "inter-ocular") and the pupils ("inter-pupil").
OUTER_EYE_CORNERS: tuple[int, int] = (60, 72)
PUPILS: tuple[int, int] = (96, 97)

# WFLW subset name -> file under list_98pt_test/. "full" is the whole test split.
TEST_SUBSET_FILES: dict[str, str] = {
    "full": "list_98pt_test.txt",
    "pose": "list_98pt_test_largepose.txt",
    "expression": "list_98pt_test_expression.txt",
    "illumination": "list_98pt_test_illumination.txt",
    "makeup": "list_98pt_test_makeup.txt",
    "occlusion": "list_98pt_test_occlusion.txt",
    "blur": "list_98pt_test_blur.txt",
}


def rect_attr_path(root: Path, split: str) -> Path:
    """Path of the rect+attr annotation file of ``split`` under a WFLW root."""
    return root / RECT_ATTR_DIR / f"list_98pt_rect_attr_{split}.txt"


def subset_file_path(root: Path, subset: str) -> Path:
    """Path of a test subset file (``subset`` is a key of TEST_SUBSET_FILES) under a WFLW root."""
    return root / TEST_SUBSET_DIR / TEST_SUBSET_FILES[subset]


class WflwFormatError(ValueError):
    """A line that does not follow the WFLW format; the message says why."""


@dataclass(frozen=True)
class WflwFace:
    """One annotated face of a rect+attr file.

    Attributes:
        landmarks: (98, 2) float64, pixel xy in WFLW index order.
        bbox: (x_min, y_min, x_max, y_max) of the detection rectangle, pixels.
        attributes: six 0/1 flags in ATTRIBUTES order.
        image: image path relative to ``WFLW_images/`` (forward slashes).
    """

    landmarks: np.ndarray
    bbox: tuple[float, float, float, float]
    attributes: tuple[int, int, int, int, int, int]
    image: str


def _floats(fields: Sequence[str], what: str) -> list[float]:
    values = []
    for i, text in enumerate(fields):
        try:
            value = float(text)
        except ValueError:
            raise WflwFormatError(f"{what} field {i} is not a number: {text!r}") from None
        if not math.isfinite(value):
            raise WflwFormatError(f"{what} field {i} is not finite: {text!r}")
        values.append(value)
    return values


def _landmarks(fields: Sequence[str]) -> np.ndarray:
    return np.asarray(_floats(fields, "landmark"), dtype=np.float64).reshape(NUM_LANDMARKS, 2)


def parse_rect_attr_line(line: str) -> WflwFace:
    """Parse one line of ``list_98pt_rect_attr_{train,test}.txt``.

    Raises:
        WflwFormatError: wrong field count, non-numeric or non-finite value, flag not 0/1, empty path.
    """
    fields = line.split()
    if len(fields) != RECT_ATTR_FIELDS:
        raise WflwFormatError(f"expected {RECT_ATTR_FIELDS} fields, found {len(fields)}")
    n = 2 * NUM_LANDMARKS
    landmarks = _landmarks(fields[:n])
    bbox = tuple(_floats(fields[n : n + 4], "bbox"))
    flags = fields[n + 4 : n + 10]
    for name, text in zip(ATTRIBUTES, flags, strict=True):
        if text not in ("0", "1"):
            raise WflwFormatError(f"attribute {name!r} must be 0 or 1, found {text!r}")
    return WflwFace(landmarks=landmarks, bbox=bbox, attributes=tuple(int(f) for f in flags), image=fields[-1])


def parse_subset_line(line: str) -> tuple[np.ndarray, str]:
    """Parse one line of a ``list_98pt_test*.txt`` file.

    Returns:
        (landmarks (98, 2) float64, image path relative to ``WFLW_images/``).
    """
    fields = line.split()
    if len(fields) != SUBSET_FIELDS:
        raise WflwFormatError(f"expected {SUBSET_FIELDS} fields, found {len(fields)}")
    return _landmarks(fields[:-1]), fields[-1]


def _format_coords(landmarks: np.ndarray) -> str:
    if landmarks.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"landmarks must have shape (98, 2), got {landmarks.shape}")
    return " ".join(f"{v:.6f}" for v in landmarks.reshape(-1))


def format_rect_attr_line(face: WflwFace) -> str:
    """One rect+attr line (no newline), coordinates with 6 decimals and an integer bbox as WFLW writes."""
    bbox = " ".join(str(int(round(v))) for v in face.bbox)
    flags = " ".join(str(int(a)) for a in face.attributes)
    return f"{_format_coords(face.landmarks)} {bbox} {flags} {face.image}"


def format_subset_line(face: WflwFace) -> str:
    """One test-subset line (no newline): coordinates and image path."""
    return f"{_format_coords(face.landmarks)} {face.image}"


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) for every non-blank line of a text file (a UTF-8
    byte-order mark, as some editors write, is not part of the first line)."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def write_lines(path: Path, lines: Sequence[str]) -> None:
    """Write lines with Unix newlines, creating parent folders (used by the synthetic twin and tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def write_wflw_annotations(root: Path, faces_by_split: dict[str, Sequence[WflwFace]]) -> None:
    """Write both annotation folders of a WFLW root: rect+attr files for each split and the test subsets.

    The test subset files hold the test faces whose flag is set (``full``: all of them), in file order.
    """
    for split, faces in faces_by_split.items():
        write_lines(rect_attr_path(root, split), [format_rect_attr_line(f) for f in faces])
    test_faces = faces_by_split.get("test", ())
    for subset in TEST_SUBSET_FILES:
        keep = [f for f in test_faces if subset == "full" or f.attributes[ATTRIBUTES.index(subset)] == 1]
        write_lines(subset_file_path(root, subset), [format_subset_line(f) for f in keep])
