"""Planar geometry as 3x3 homogeneous matrices: build, compose, invert, apply, and warp with one resample.

Convention (the project's one landmark convention, see ``landmark_core.wflw``): continuous pixel
coordinates, x right, y down, origin at the top-left *corner* of the top-left pixel, so pixel (i, j) has
its centre at (j + 0.5, i + 0.5). Every matrix maps column vectors ``[x, y, 1]`` of one frame into another;
``compose(a, b)`` means "first b, then a". OpenCV samples at pixel centres with integer coordinates, so
``warp_affine`` converts once at the boundary.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_HALF = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
_MINUS_HALF = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])


def identity() -> np.ndarray:
    """The 3x3 identity (float64)."""
    return np.eye(3)


def translation(*, dx: float, dy: float) -> np.ndarray:
    """Shift by (dx, dy) pixels."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def rotation_scale(*, angle_deg: float, scale: float, center: tuple[float, float]) -> np.ndarray:
    """Rotate by ``angle_deg`` (counter-clockwise as seen on screen, y down) and scale about ``center``.

    This is the study's equation 3.2: p' = s R(alpha) (p - c) + c.
    """
    a = math.radians(angle_deg)
    cos, sin = scale * math.cos(a), scale * math.sin(a)
    cx, cy = center
    return np.array([[cos, sin, cx - cos * cx - sin * cy], [-sin, cos, cy + sin * cx - cos * cy], [0.0, 0.0, 1.0]])


def hflip(*, center_x: float) -> np.ndarray:
    """Mirror about the vertical line x = center_x."""
    return np.array([[-1.0, 0.0, 2.0 * center_x], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def square_crop(*, center: tuple[float, float], side: float, size: int) -> np.ndarray:
    """Map the axis-aligned square of ``side`` pixels centred on ``center`` onto a ``size`` x ``size`` image.

    The study's equation 3.6 with side = 1.6 max(w, h) of the face box.
    """
    s = size / side
    cx, cy = center
    return np.array([[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy], [0.0, 0.0, 1.0]])


def compose(*matrices: np.ndarray) -> np.ndarray:
    """Product of 3x3 matrices, applied right to left: ``compose(a, b, c) @ p == a @ (b @ (c @ p))``."""
    out = np.eye(3)
    for m in matrices:
        out = out @ m
    return out


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of an invertible 3x3 affine (closed form); raises ValueError when it is singular."""
    (a, b, tx), (c, d, ty) = matrix[0].tolist(), matrix[1].tolist()
    det = a * d - b * c
    if abs(det) < 1e-12:
        raise ValueError("matrix is singular and cannot be inverted")
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return np.array([[ia, ib, -(ia * tx + ib * ty)], [ic, id_, -(ic * tx + id_ * ty)], [0.0, 0.0, 1.0]])


def relative(*, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The matrix taking view ``source``'s frame to view ``target``'s frame, when both are maps from one image.

    Section 3.3.3 of the study: T = C2 R C1^-1 in general, here ``target @ inv(source)``.
    """
    return target @ invert(source)


def apply_points(*, matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points through a 3x3 affine.

    Shapes:
        matrix (3, 3) or (B, 3, 3); points (..., N, 2) with matching leading batch dims -> same shape.
    """
    lin = matrix[..., :2, :2]
    shift = matrix[..., :2, 2]
    return points @ np.swapaxes(lin, -1, -2) + shift[..., None, :]


def opencv_matrix(matrix: np.ndarray) -> np.ndarray:
    """The same map in OpenCV's pixel coordinates (integer pixel centres), for ``cv2.warpAffine`` and
    ``cv2.warpPerspective``.

    Shapes:
        matrix (3, 3) -> (3, 3).
    """
    return _MINUS_HALF @ matrix @ _HALF


def scale_of(matrix: np.ndarray) -> float:
    """Mean linear scale of an affine (sqrt of |det| of its 2x2 part)."""
    (a, b), (c, d) = matrix[0, :2].tolist(), matrix[1, :2].tolist()
    return math.sqrt(abs(a * d - b * c))


def warp_affine(
    *,
    image: np.ndarray,
    matrix: np.ndarray,
    size: int,
    antialias: bool = True,
    border_value: tuple[int, ...] = (0, 0, 0),
) -> np.ndarray:
    """Resample ``image`` into a ``size`` x ``size`` output through ``matrix`` (source frame -> output frame).

    One bilinear resample. With ``antialias``, a map that shrinks the image by 2x or more first has the part of
    the source the output sees reduced by ``area_reduce`` (the matrix is adjusted exactly), so large faces do
    not alias; no full-size intermediate image is ever made.

    Shapes:
        image (H, W, C) uint8 -> (size, size, C) uint8.
    """
    if antialias:
        image, to_small = area_reduce(image=image, matrices=[matrix], size=size)
        matrix = matrix @ invert(to_small)
    cv_matrix = opencv_matrix(matrix)[:2]
    return cv2.warpAffine(
        image,
        cv_matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )


def area_reduce(*, image: np.ndarray, matrices: list[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-reduce the source region that several size x size outputs see, by one integer factor.

    The factor is int(1 / s) for the largest scale s among ``matrices`` (so no output is under-sampled), and
    the region is the union of the outputs' pre-images: views of one face share a single reduction.

    Returns:
        The reduced region and the matrix from the original image to it (identity and the image itself when
        no reduction is needed). Shapes: (h, w, C) uint8, (3, 3).
    """
    factor = int(1.0 / max(max(scale_of(m) for m in matrices), 1e-9))
    if factor < 2:
        return image, np.eye(3)
    corners = np.array([[0.0, 0.0], [size, 0.0], [0.0, size], [size, size]])
    pre = np.concatenate([apply_points(matrix=invert(m), points=corners) for m in matrices])
    h, w = image.shape[:2]
    x0 = int(np.clip(math.floor(pre[:, 0].min()) - factor, 0, w))
    y0 = int(np.clip(math.floor(pre[:, 1].min()) - factor, 0, h))
    x1 = int(np.clip(math.ceil(pre[:, 0].max()) + factor, 0, w))
    y1 = int(np.clip(math.ceil(pre[:, 1].max()) + factor, 0, h))
    rw, rh = (x1 - x0) // factor, (y1 - y0) // factor
    if rw < 1 or rh < 1:
        return image, np.eye(3)
    roi = image[y0 : y0 + rh * factor, x0 : x0 + rw * factor]
    small = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
    if small.ndim == 2 and image.ndim == 3:
        small = small[..., None]
    return small, compose(np.diag([1.0 / factor, 1.0 / factor, 1.0]), translation(dx=-x0, dy=-y0))
