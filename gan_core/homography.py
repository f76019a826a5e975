"""Homographies from four point pairs, and perspective warps in the project's pixel convention.

The study maps an edited aligned face back into the photo with the homography that takes the four corners
of the aligned square to the stored quad (its equation 3.11): eight unknowns (h33 = 1), two linear
equations per point pair. Coordinates follow ``landmark_core.geometry``: continuous pixel xy, pixel (i, j)
centred at (j + 0.5, i + 0.5); OpenCV's integer-centre convention is converted by its ``opencv_matrix``.
"""

from __future__ import annotations

import cv2
import numpy as np

from landmark_core.geometry import opencv_matrix


def homography_from_points(*, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 homography H with H [x, y, 1]^T ~ [u, v, 1]^T for four pairs (x, y) -> (u, v).

    Solves the 8x8 system of equation 3.11 (h33 fixed to 1):
    u = (h11 x + h12 y + h13) / (h31 x + h32 y + 1), v likewise with the second row.

    Shapes:
        source (4, 2), target (4, 2) -> (3, 3).

    Raises:
        ValueError: three of the points are collinear (no unique homography).
    """
    for points in (np.asarray(source, float), np.asarray(target, float)):
        _check_general_position(points)
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for k, ((x, y), (u, v)) in enumerate(zip(np.asarray(source, float), np.asarray(target, float), strict=True)):
        a[2 * k] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y]
        a[2 * k + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y]
        b[2 * k], b[2 * k + 1] = u, v
    return np.append(np.linalg.solve(a, b), 1.0).reshape(3, 3)


def _check_general_position(points: np.ndarray) -> None:
    """Raise ValueError when three of the four points are (nearly) collinear."""
    extent = max(float(np.ptp(points, axis=0).max()), 1e-12)
    for i, j, k in ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)):
        u, v = points[j] - points[i], points[k] - points[i]
        if abs(u[0] * v[1] - u[1] * v[0]) < 1e-9 * extent**2:
            raise ValueError(f"degenerate point pairs: points {i}, {j}, {k} of {points.tolist()} are collinear")


def apply_homography(*, matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points through a 3x3 homography (with the perspective divide).

    Shapes:
        matrix (3, 3); points (N, 2) -> (N, 2).
    """
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ matrix.T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def square_corners(size: float) -> np.ndarray:
    """Corners of the [0, size]^2 square in FFHQ's quad order: top-left, bottom-left, bottom-right, top-right.

    Shapes:
        -> (4, 2).
    """
    return np.array([[0.0, 0.0], [0.0, size], [size, size], [size, 0.0]])


def warp_perspective(
    *, image: np.ndarray, matrix: np.ndarray, width: int, height: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Resample ``image`` into a ``width`` x ``height`` output through ``matrix`` (source frame -> output frame).

    Outside the source the output is 0. Works for uint8 and float32 images, with or without a channel axis.

    Shapes:
        image (H, W[, C]) -> (height, width[, C]).
    """
    return cv2.warpPerspective(
        image,
        opencv_matrix(matrix),
        (width, height),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
