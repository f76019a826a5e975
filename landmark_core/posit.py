"""POSIT (DeMenthon & Davis, "Model-based object pose in 25 lines of code", IJCV 1995).

The pose of a known, non-coplanar 3D point set from one perspective image of it: start from the scaled
orthographic projection (every point at the depth of a reference point), solve the two rows of the rotation by
least squares, then correct each point's image by its estimated depth and iterate until the corrections stop
changing. It needs no initial guess and no nonlinear optimiser, and it degrades gracefully to the scaled
orthographic answer for small, distant objects such as a 70-pixel face.

Coordinates: camera axes x right, y down, z forward (OpenCV's); image points are pixels relative to the
principal point; the returned rotation maps object coordinates into the camera frame.
"""

from __future__ import annotations

import numpy as np


class PoseError(ValueError):
    """No pose can be recovered from these points (too few distinct points, degenerate geometry, no convergence)."""


def posit(
    *,
    model: np.ndarray,
    image: np.ndarray,
    focal: float,
    reference: int = 0,
    iterations: int = 100,
    tolerance: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Pose of ``model`` seen as ``image`` by a pinhole camera of focal length ``focal``.

    Args:
        model: object points.
        image: their image, pixels relative to the principal point (x right, y down).
        focal: focal length in pixels.
        reference: the index of the reference point (its depth is the scaled orthographic depth).
        iterations: at most this many depth corrections.
        tolerance: stop when no depth correction moves by more than this (relative to the reference depth).

    Returns:
        (rotation, translation): ``camera = rotation @ point + translation`` for every object point.

    Shapes:
        model (N, 3), image (N, 2), N >= 4 -> rotation (3, 3) orthonormal with determinant +1, translation (3,).

    Raises:
        PoseError: fewer than 4 points, non-finite values, coplanar or collapsed points, or no finite pose.
    """
    model = np.asarray(model, dtype=np.float64)
    image = np.asarray(image, dtype=np.float64)
    if model.ndim != 2 or model.shape[1] != 3 or image.shape != (len(model), 2) or len(model) < 4:
        raise PoseError(f"POSIT needs N >= 4 matching 3D and 2D points, got {model.shape} and {image.shape}")
    if not (np.all(np.isfinite(model)) and np.all(np.isfinite(image)) and np.isfinite(focal) and focal > 0):
        raise PoseError("POSIT needs finite points and a positive focal length")
    others = np.arange(len(model)) != reference
    vectors = model[others] - model[reference]  # (N-1, 3) object vectors from the reference point
    if np.linalg.matrix_rank(vectors, tol=1e-9 * max(1.0, np.abs(vectors).max())) < 3:
        raise PoseError("POSIT needs non-coplanar object points")
    pseudo = np.linalg.pinv(vectors)  # (3, N-1)
    x0, y0 = image[reference]
    xs, ys = image[others, 0], image[others, 1]
    spread = np.ptp(image, axis=0)
    if spread.min() <= 1e-9 * max(1.0, np.abs(image).max()):
        raise PoseError("POSIT needs image points spread in both directions (they are collapsed)")
    corrections = np.zeros(len(vectors))
    for _ in range(iterations):
        row_i = pseudo @ (xs * (1.0 + corrections) - x0)
        row_j = pseudo @ (ys * (1.0 + corrections) - y0)
        scale_i, scale_j = np.linalg.norm(row_i), np.linalg.norm(row_j)
        if not (scale_i > 0 and scale_j > 0 and np.isfinite(scale_i * scale_j)):
            raise PoseError("POSIT found no pose (degenerate image)")
        scale = np.sqrt(scale_i * scale_j)
        rotation = _orthonormal(row_i / scale_i, row_j / scale_j)
        depth = focal / scale  # z of the reference point
        updated = vectors @ rotation[2] / depth
        done = np.max(np.abs(updated - corrections)) < tolerance
        corrections = updated
        if done:
            break
    translation = np.array([x0 * depth / focal, y0 * depth / focal, depth])
    if not (np.all(np.isfinite(rotation)) and np.all(np.isfinite(translation))):
        raise PoseError("POSIT found no finite pose")
    return rotation, translation


def _orthonormal(row_i: np.ndarray, row_j: np.ndarray) -> np.ndarray:
    """The rotation nearest to the rows (i, j, i x j): POSIT's two rows are only approximately orthogonal."""
    k = np.cross(row_i, row_j)
    u, _, vt = np.linalg.svd(np.stack([row_i, row_j, k / max(np.linalg.norm(k), 1e-12)]))
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:
        rotation = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    return rotation
