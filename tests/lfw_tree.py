"""A miniature LFW Part Labels tree (the funneled images and their RGB truth) for the segmenter's tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def lfw_tree(root: Path, names: list[tuple[str, int]]) -> None:
    """Funneled images and RGB truth (face = green disc, hair = red band, background = blue) for each name."""
    for name, number in names:
        stem = f"{name}_{number:04d}"
        (root / "lfw_funneled" / name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "lfw_funneled" / name / f"{stem}.jpg"), np.full((250, 250, 3), 90, np.uint8))
        truth = np.zeros((250, 250, 3), np.uint8)
        truth[...] = (255, 0, 0)  # BGR blue: background
        truth[20:60] = (0, 0, 255)  # red: hair
        cv2.circle(truth, (125, 140), 60, (0, 255, 0), -1)  # green: face skin
        (root / "parts_lfw_funneled_gt_images").mkdir(exist_ok=True)
        cv2.imwrite(str(root / "parts_lfw_funneled_gt_images" / f"{stem}.ppm"), truth)
