"""FFHQ-aligned twin faces written as a WFLW root: what a landmark model of the GAN's pictures trains on.

The GAN branch measures landmarks on aligned faces (projections, relit faces) at the GAN's resolution. A model
trained on the same kind of picture, aligned twin faces at that size with their true landmarks, is what
measures them: its error on true faces is the floor against which a projection's landmark drift is read. The
faces are written in WFLW's layout (``WFLW_images/``, ``list_98pt_rect_attr_{train,test}.txt``), so the
project's own training and evaluation read them unchanged. The detection box is the landmarks' box grown by 5 %
on each side, as the twin's photos have; no attribute flag is set (one face per picture, none occluded).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from gan_core.twin_faces import aligned_twin_faces
from landmark_core.atomic import atomic_write_text
from landmark_core.face_crops import landmark_box
from landmark_core.wflw import IMAGES_DIR, WflwFace, format_rect_attr_line, rect_attr_path

FOLDER = "twin--aligned"  # the event folder under WFLW_images/


def write_twin_wflw(*, out: Path, train_seeds: Sequence[int], test_seeds: Sequence[int], resolution: int) -> Path:
    """Render, align and write the portraits of the seeds as a WFLW root at ``out``.

    Args:
        out: the root (created).
        train_seeds: the training split's portraits.
        test_seeds: the test split's portraits (keep them apart from the GAN's training seeds).
        resolution: side of each aligned picture.

    Returns:
        ``out``.
    """
    for split, seeds in (("train", train_seeds), ("test", test_seeds)):
        faces = aligned_twin_faces(seeds=seeds, resolution=resolution)
        lines = []
        for seed, image, landmarks in zip(faces.seeds, faces.images, faces.landmarks, strict=True):
            relative = f"{FOLDER}/twin_{seed}.png"
            path = out / IMAGES_DIR / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {path}")
            face = WflwFace(landmarks=landmarks, bbox=_box(landmarks, resolution), attributes=(0,) * 6, image=relative)
            lines.append(format_rect_attr_line(face) + "\n")
        rect_attr_path(out, split).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(rect_attr_path(out, split), "".join(lines))
    return out


def _box(landmarks: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """The landmarks' box (``landmark_box``), out to whole pixels inside the picture."""
    x0, y0, x1, y1 = landmark_box(landmarks)
    return (
        int(max(np.floor(x0), 0)),
        int(max(np.floor(y0), 0)),
        int(min(np.ceil(x1), side - 1)),
        int(min(np.ceil(y1), side - 1)),
    )
