"""Physical relighting of a face in its photo: mean-3D-face normals, an SH lighting fit, and a ratio image.

Works on any face with 98 landmarks (profile and occluded ones too) in milliseconds, with no projection,
review or paste, and leaves the landmarks unchanged by construction:

1. fit the mean 3D face (``landmark_core.headpose``) to the landmarks (perspective-n-point);
2. rasterise its triangulated surface (Delaunay over the frontal xy of the 98 points, vertex normals, a depth
   buffer, back faces culled) into a dense normal map over the face region, smoothed;
3. fit the source SH lighting to the face's luminance (constant albedo; brows, eyes and inner mouth left out);
4. multiply the face by ``shading(n, L_target) / shading(n, L_source)`` with a soft falloff at the edge.

All work happens at ``work_size`` pixels across the face; only the final ratio map is resized to the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from gan_core.sh import dpr_normals, fit_sh, shading
from landmark_core.headpose import MODEL_TO_CAMERA, mean_face_3d, solve_head_pose

# Regions whose albedo is far from skin's, left out of the lighting fit (WFLW indices): brows, eyes, inner mouth.
FIT_HOLES = (
    tuple(range(33, 42)),
    tuple(range(42, 51)),
    tuple(range(60, 68)),
    tuple(range(68, 76)),
    tuple(range(88, 96)),
)


class RelightError(ValueError):
    """This face cannot be relit physically (the message says why)."""


@dataclass(frozen=True)
class PhysicalConfig:
    """Attributes:
    work_size: side (px) of the working grid across the face box.
    margin: box margin around the landmarks, as a fraction of their extent.
    min_face_px: smallest landmark extent (px) accepted.
    smooth: Gaussian sigma of the normal-map smoothing, as a fraction of ``work_size``.
    falloff: Gaussian sigma of the mask's soft edge, as a fraction of ``work_size``.
    min_shading: floor of the source shading in the ratio's denominator.
    ratio_limits: clamp of the ratio image.
    """

    work_size: int = 160
    margin: float = 0.1
    min_face_px: int = 24
    smooth: float = 0.02
    falloff: float = 0.06
    min_shading: float = 0.05
    ratio_limits: tuple[float, float] = (0.25, 4.0)


@dataclass
class FaceGeometry:
    """The face's normal map on the working grid.

    Attributes:
        box: (x0, y0, x1, y1) integer pixel box in the photo that the grid covers.
        normals: ``[h, w, 3]`` unit normals in DPR axes (zero outside the face).
        mask: ``[h, w]`` bool, where the face surface was rasterised.
        fit_mask: ``[h, w]`` bool, the pixels the lighting fit uses (face minus eyes and inner mouth).
    """

    box: tuple[int, int, int, int]
    normals: np.ndarray
    mask: np.ndarray
    fit_mask: np.ndarray


BROW_TOPS = (33, 34, 35, 36, 37, 42, 43, 44, 45, 46)  # upper contours of both eyebrows (WFLW indices)
FOREHEAD_ROWS = ((0.97, 0.2, 0.08), (0.9, 0.4, 0.25))  # (x scale, rise, recession) per row, face-height units


@lru_cache(maxsize=1)
def face_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean face as a mesh, normals toward +z: (points [98 + 20, 3], triangles [T, 3], normals [98 + 20, 3]).

    The 98 landmarks end at the brows, and the surface between brows and eyes faces downward; without a
    forehead the normal map would miss the face's largest upward-facing area. Two rows of points above the
    brows, receding as a forehead does, are added (model units; the landmarks are the first 98 rows).
    """
    landmarks = np.asarray(mean_face_3d())
    brows = landmarks[list(BROW_TOPS)]
    extra = [brows * [sx, 1, 1] + [0, rise, -recede] for sx, rise, recede in FOREHEAD_ROWS]
    points = np.vstack([landmarks, *extra])
    from scipy.spatial import Delaunay  # imported here: reading a PhysicalConfig needs no scipy

    triangles = Delaunay(points[:, :2]).simplices.copy()
    a, b, c = (points[triangles[:, i]] for i in range(3))
    clockwise = np.cross(b - a, c - a)[:, 2] < 0
    triangles[clockwise] = triangles[clockwise][:, [0, 2, 1]]  # counter-clockwise in model xy: front faces
    a, b, c = (points[triangles[:, i]] for i in range(3))
    face_n = np.cross(b - a, c - a)
    vertex_n = np.zeros_like(points)
    for i in range(3):
        np.add.at(vertex_n, triangles[:, i], face_n)
    vertex_n /= np.linalg.norm(vertex_n, axis=1, keepdims=True)
    return points, triangles, vertex_n


def _box(landmarks: np.ndarray, shape: tuple[int, int], config: PhysicalConfig) -> tuple[int, int, int, int]:
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent < config.min_face_px:
        raise RelightError(f"face too small for a normal map: landmark extent {extent:.1f} px < {config.min_face_px}")
    pad = config.margin * extent
    x0, y0 = np.floor(np.maximum(lo - pad, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(hi + pad, [shape[1], shape[0]])).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _rasterise(
    verts: np.ndarray, depth: np.ndarray, normals: np.ndarray, triangles: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric interpolation of vertex normals over the visible triangles, nearest surface wins.

    Triangles facing away (clockwise on screen) are culled; the rest are drawn far to near as triangle ids
    (painter's algorithm, OpenCV's polygon fill), then every covered pixel interpolates its triangle's normals.
    """
    p = verts[triangles]  # [T, 3, 2]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    visible = np.flatnonzero(det < -1e-9)
    ids = np.full(size, -1, np.int32)
    for t in visible[np.argsort(-depth[triangles[visible]].mean(axis=1))]:
        cv2.fillConvexPoly(ids, np.round(p[t] * 16).astype(np.int32), int(t), lineType=cv2.LINE_8, shift=4)
    ys, xs = np.nonzero(ids >= 0)
    t = ids[ys, xs]
    dx, dy = xs + 0.5 - p[t, 0, 0], ys + 0.5 - p[t, 0, 1]
    u = (dx * e2[t, 1] - dy * e2[t, 0]) / det[t]
    v = (e1[t, 0] * dy - e1[t, 1] * dx) / det[t]
    bary = np.clip(np.stack([1 - u - v, u, v], axis=1), 0.0, 1.0)
    out = np.zeros((*size, 3))
    out[ys, xs] = np.einsum("pk,pkc->pc", bary, normals[triangles[t]])
    return out, ids >= 0


def face_geometry(
    *, landmarks: np.ndarray, image_shape: tuple[int, ...], config: PhysicalConfig = PhysicalConfig()
) -> FaceGeometry:
    """The dense normal map of a face from its 98 landmarks.

    Args:
        landmarks: ``[98, 2]`` pixel xy, WFLW order.
        image_shape: the photo's shape (h, w[, c]).
        config: working resolution and limits.

    Raises:
        RelightError: non-finite or collapsed landmarks, a face too small, or no pose.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (98, 2) or not np.all(np.isfinite(landmarks)):
        raise RelightError("degenerate landmarks: need 98 finite (x, y) points")
    box = _box(landmarks, image_shape[:2], config)
    try:
        rotation, translation, K = solve_head_pose(landmarks=landmarks)
    except ValueError as error:
        raise RelightError(f"degenerate landmarks: no head pose ({error})") from None
    points, triangles, vertex_n = face_mesh()
    camera = (MODEL_TO_CAMERA @ rotation @ points.T).T + translation
    if np.any(camera[:, 2] <= 0):
        raise RelightError("degenerate landmarks: the fitted face lies behind the camera")
    pixels = (K @ camera.T).T
    pixels = pixels[:, :2] / pixels[:, 2:3]
    box = _box(np.vstack([landmarks, pixels]), image_shape[:2], config)  # the forehead widens the box
    scale = min(1.0, config.work_size / max(box[2] - box[0], box[3] - box[1]))
    size = (max(1, round((box[3] - box[1]) * scale)), max(1, round((box[2] - box[0]) * scale)))
    verts = (pixels - [box[0], box[1]]) * scale
    normals, mask = _rasterise(verts, camera[:, 2], (rotation @ vertex_n.T).T, triangles, size)
    if mask.sum() < 64:
        raise RelightError(f"face too small for a normal map: {int(mask.sum())} surface pixels")
    normals = _smooth(normals, mask, sigma=config.smooth * config.work_size)
    holes = np.zeros(size, np.uint8)
    for ring in FIT_HOLES:
        cv2.fillPoly(holes, [np.round((landmarks[list(ring)] - [box[0], box[1]]) * scale).astype(np.int32)], 1)
    fit_mask = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & (holes == 0)
    return FaceGeometry(box=box, normals=dpr_normals(normals), mask=mask, fit_mask=fit_mask)


def _smooth(normals: np.ndarray, mask: np.ndarray, *, sigma: float) -> np.ndarray:
    """Masked Gaussian smoothing of a normal map, renormalised (zero outside the mask)."""
    if sigma > 0.3:
        weight = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
        normals = cv2.GaussianBlur((normals * mask[..., None]).astype(np.float32), (0, 0), sigma)
        normals = normals / np.maximum(weight, 1e-6)[..., None]
    length = np.linalg.norm(normals, axis=2, keepdims=True)
    return np.where(mask[..., None], normals / np.maximum(length, 1e-6), 0.0)


def _luminance(image_bgr: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    x0, y0, x1, y1 = geometry.box
    crop = cv2.resize(image_bgr[y0:y1, x0:x1], geometry.mask.shape[::-1], interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)[:, :, 0].astype(np.float64) / 255.0


def estimate_source_sh(*, image_bgr: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    """SH lighting fitted to the face's luminance (DPR's L/255 scale), ``[9]``.

    Raises:
        RelightError: too few usable pixels or a non-finite fit.
    """
    lum = _luminance(image_bgr, geometry)
    use = geometry.fit_mask & (lum > 0.03) & (lum < 0.97)
    try:
        return fit_sh(normals_dpr=geometry.normals[use], luminance=lum[use])
    except ValueError as error:
        raise RelightError(f"no usable SH lighting: {error}") from None


def relight(
    *,
    image_bgr: np.ndarray,
    geometry: FaceGeometry,
    source_sh: np.ndarray,
    target_sh: np.ndarray,
    config: PhysicalConfig = PhysicalConfig(),
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The photo with the face's lighting changed from ``source_sh`` to ``target_sh`` (ratio image).

    Args:
        out: an image-sized uint8 buffer to write into (reused across variants it saves a large allocation per
            call); None allocates one.

    Returns:
        ``out`` (or a new ``[H, W, 3]`` uint8 image): the photo, with only the face box changed.

    Raises:
        RelightError: a lighting vector is not finite.
    """
    if not (np.all(np.isfinite(source_sh)) and np.all(np.isfinite(target_sh))):
        raise RelightError("NaN SH lighting")
    flat = geometry.normals.reshape(-1, 3)
    src = shading(normals_dpr=flat, sh=source_sh).reshape(geometry.mask.shape)
    tgt = shading(normals_dpr=flat, sh=target_sh).reshape(geometry.mask.shape)
    ratio = np.clip(np.maximum(tgt, 0) / np.maximum(src, config.min_shading), *config.ratio_limits)
    sigma = config.falloff * config.work_size
    inset = 2 * int(np.ceil(sigma)) + 1  # erode by ~2 sigma so the blurred edge reaches 0 at the mask border
    alpha = cv2.GaussianBlur(cv2.erode(geometry.mask.astype(np.float32), np.ones((inset, inset))), (0, 0), sigma)
    factor = (1.0 + alpha * (np.where(geometry.mask, ratio, 1.0) - 1.0)).astype(np.float32)
    x0, y0, x1, y1 = geometry.box
    factor = cv2.resize(cv2.merge([factor] * 3), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    if out is None:
        out = image_bgr.copy()
    else:
        np.copyto(out, image_bgr)
    cv2.multiply(image_bgr[y0:y1, x0:x1], factor, dst=out[y0:y1, x0:x1], dtype=cv2.CV_8U)  # saturating
    return out
