"""LFW Part Labels: the segmenter's training data in the study (2,927 funneled 250x250 faces with pixel labels).

The archives (research use; http://vis-www.cs.umass.edu/lfw/part_labels/) hold the funneled images
(``lfw_funneled/<Name>/<Name>_<NNNN>.jpg``) and the ground truth as RGB images
(``parts_lfw_funneled_gt_images/<Name>_<NNNN>.ppm``: green = face skin, red = hair, blue = background), plus
the published split lists (``parts_{train,validation,test}.txt``: ``<Name> <N>`` per line). The study's
preprocessing makes a binary mask: face skin white, everything else black. No sha256 of these files is
published; the first download must be pinned, as for WFLW (``landmark_core.download``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from landmark_core.download import RemoteFile

LFW_BASE = "http://vis-www.cs.umass.edu/lfw"
IMAGES_DIR = "lfw_funneled"
TRUTH_DIR = "parts_lfw_funneled_gt_images"
SPLITS = ("train", "validation", "test")
LFW_PARTS_FILES: tuple[RemoteFile, ...] = (
    RemoteFile(
        name="lfw-funneled.tgz", url=f"{LFW_BASE}/lfw-funneled.tgz", note="LFW funneled images (250x250); research use."
    ),
    RemoteFile(
        name="parts_lfw_funneled_gt_images.tgz",
        url=f"{LFW_BASE}/part_labels/parts_lfw_funneled_gt_images.tgz",
        note="LFW Part Labels ground truth (RGB: face skin / hair / background); research use.",
    ),
    *(
        RemoteFile(
            name=f"parts_{s}.txt",
            url=f"{LFW_BASE}/part_labels/parts_{s}.txt",
            extract=False,
            note=f"LFW Part Labels {s} list.",
        )
        for s in SPLITS
    ),
)


@dataclass(frozen=True)
class LfwPart:
    """One labelled face: its split, image and ground-truth paths (relative to the dataset root)."""

    split: str
    name: str
    image: str
    truth: str


def parse_split_list(*, path: Path) -> list[tuple[str, str]]:
    """``(name, stem)`` of every line ``<Name> <N>`` of a split list; stem = ``<Name>_<NNNN>``.

    Raises:
        ValueError: a malformed line (the file and line number are named).
    """
    entries = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}:{number}: expected '<Name> <number>', got {line!r}")
        entries.append((parts[0], f"{parts[0]}_{int(parts[1]):04d}"))
    return entries


def index_lfw_parts(*, root: Path) -> tuple[list[LfwPart], pd.DataFrame]:
    """Every listed face whose image and ground truth both exist, and a quarantine of the rest with reasons."""
    faces, quarantine = [], []
    for split in SPLITS:
        listing = root / f"parts_{split}.txt"
        if not listing.is_file():
            raise FileNotFoundError(f"{listing}: LFW Part Labels split list missing")
        for name, stem in parse_split_list(path=listing):
            face = LfwPart(
                split=split, name=name, image=f"{IMAGES_DIR}/{name}/{stem}.jpg", truth=f"{TRUTH_DIR}/{stem}.ppm"
            )
            missing = [p for p in (face.image, face.truth) if not (root / p).is_file()]
            if missing:
                quarantine.append({"split": split, "stem": stem, "reason": f"missing {', '.join(missing)}"})
            else:
                faces.append(face)
    return faces, pd.DataFrame(quarantine, columns=["split", "stem", "reason"])


def face_mask_from_truth(truth_bgr: np.ndarray) -> np.ndarray:
    """The study's preprocessing: face-skin (green-dominant) pixels white (255), everything else black.

    Shapes:
        truth_bgr (H, W, 3) uint8 as OpenCV reads the .ppm -> (H, W) uint8 {0, 255}.
    """
    b, g, r = (truth_bgr[..., i].astype(np.int16) for i in range(3))
    return np.where((g > r) & (g > b), 255, 0).astype(np.uint8)


def load_pair(*, root: Path, face: LfwPart) -> tuple[np.ndarray, np.ndarray]:
    """A face's RGB image and binary mask, both 250x250 (LFW funneled).

    Raises:
        ValueError: unreadable files or image and mask of different sizes (the file is named).
    """
    image = cv2.imread(str(root / face.image))
    truth = cv2.imread(str(root / face.truth))
    if image is None or truth is None:
        raise ValueError(f"{root / (face.image if image is None else face.truth)}: cannot read")
    if image.shape[:2] != truth.shape[:2]:
        raise ValueError(f"{root / face.truth}: size {truth.shape[:2]} differs from its image {image.shape[:2]}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), face_mask_from_truth(truth)
