"""WFLW's 98 landmarks as the iBUG 300-W 68 (dlib's order), for code written for 68 points (FFHQ alignment).

The standard correspondence: the 33 contour points taken every other one (17), each brow's upper edge (5 + 5),
the nose (9), each eye's corners and the two points nearest the lids' thirds (6 + 6), and the 20 mouth points.
"""

from __future__ import annotations

import numpy as np

IBUG68_FROM_WFLW98: tuple[int, ...] = (
    *range(0, 33, 2),  # jaw 0-16
    *range(33, 38),  # right brow (image left) 17-21
    *range(42, 47),  # left brow 22-26
    *range(51, 60),  # nose 27-35
    *(60, 61, 63, 64, 65, 67),  # right eye 36-41
    *(68, 69, 71, 72, 73, 75),  # left eye 42-47
    *range(76, 96),  # mouth 48-67
)


def ibug68_from_wflw98(landmarks: np.ndarray) -> np.ndarray:
    """Shapes: ``(98, 2)`` pixel xy, WFLW order -> ``(68, 2)`` pixel xy, iBUG/dlib order (same convention)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (98, 2):
        raise ValueError(f"expected (98, 2) WFLW landmarks, got {points.shape}")
    return points[list(IBUG68_FROM_WFLW98)]
