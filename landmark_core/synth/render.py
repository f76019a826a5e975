"""Render one synthetic face into an RGB scene.

The head is ray-cast as ellipsoids (skull, nose, hair shell) through the same pinhole camera and head pose
that project the 98 landmarks, and shaded with a Lambert + Blinn model; eyes, brows, lips, nostrils and
make-up are painted onto the albedo at the projected landmarks, so the picture and the annotation agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from landmark_core.headpose import (
    MODEL_TO_CAMERA,
    camera_matrix,
    line_of_sight_rotation,
    project_points,
    rotation_from_pose,
)
from landmark_core.synth.face import (
    BROW_LEFT,
    BROW_RIGHT,
    CONTOUR,
    EYE_LEFT,
    EYE_RIGHT,
    FACE_WIDTH_UNITS,
    HAIR_MIN_Y,
    HAIR_SHELL,
    HEAD,
    LIP_INNER,
    LIP_OUTER,
    NOSE,
    Ellipsoid,
    forehead_points,
)

SUBPIXEL_BITS = 4  # cv2 drawing shift: coordinates in 1/16 pixel


def _fixed(values) -> np.ndarray:
    """Pixel coordinates (or lengths) as cv2's fixed-point integers for drawing with ``shift=SUBPIXEL_BITS``."""
    return np.round(np.asarray(values, np.float64) * (1 << SUBPIXEL_BITS)).astype(np.int32)


@dataclass(frozen=True)
class Appearance:
    """Colours (RGB in [0, 1]) and optional make-up of one face."""

    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    clothes: tuple[float, float, float]
    bald: bool = False
    eyeshadow: tuple[float, float, float] | None = None
    blush: bool = False


@dataclass(frozen=True)
class Lighting:
    """A directional light (world frame: x right, y up, z toward the viewer) plus ambient."""

    direction: tuple[float, float, float] = (0.0, 0.3, 1.0)
    ambient: float = 0.5
    diffuse: float = 0.55
    specular: float = 0.08


@dataclass(frozen=True)
class FaceSpec:
    """Everything needed to draw one face.

    Attributes:
        shape: (98, 3) model-space landmarks (identity and expression applied).
        yaw, pitch, roll: head pose in degrees relative to the line of sight (``landmark_core.headpose``).
        center: pixel xy where the nose tip lands.
        face_width: frontal face width in pixels (sets the camera distance).
        mouth_open: the expression's jaw drop in [0, 1] (shows teeth and mouth interior).
    """

    shape: np.ndarray
    yaw: float
    pitch: float
    roll: float
    center: tuple[float, float]
    face_width: float
    appearance: Appearance
    lighting: Lighting = field(default_factory=Lighting)
    mouth_open: float = 0.0


@dataclass(frozen=True)
class RenderedFace:
    """What the renderer knows about a face it drew.

    Attributes:
        landmarks: (98, 2) pixel xy, WFLW order.
        face_mask: (H, W) bool, the visible face region (hairline to jaw, before occluders).
        head_mask: (H, W) bool, every pixel the head (face, hair, neck) covers.
    """

    landmarks: np.ndarray
    face_mask: np.ndarray
    head_mask: np.ndarray


@dataclass(frozen=True)
class _Camera:
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        return project_points(points=points, rotation=self.R, translation=self.t, K=self.K)


def _camera(spec: FaceSpec, width: int, height: int, focal: float) -> _Camera:
    K = camera_matrix(width=width, height=height, focal=focal)
    distance = focal * FACE_WIDTH_UNITS / spec.face_width
    u, v = spec.center
    t = np.array([(u - K[0, 2]) * distance / focal, (v - K[1, 2]) * distance / focal, distance])
    pose = rotation_from_pose(yaw=spec.yaw, pitch=spec.pitch, roll=spec.roll)
    return _Camera(K=K, R=line_of_sight_rotation(t) @ pose, t=t)  # the pose is relative to the line of sight


def _ray_cast(cam: _Camera, ellipsoid: Ellipsoid, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance along each pixel ray to the ellipsoid (inf on a miss) and the hit point in model space.

    Shapes: xs, ys (h, w) pixel centres -> (h, w), (h, w, 3).
    """
    to_model = cam.R.T @ MODEL_TO_CAMERA
    dirs = np.stack([(xs - cam.K[0, 2]) / cam.K[0, 0], (ys - cam.K[1, 2]) / cam.K[1, 1], np.ones_like(xs)], axis=-1)
    d = dirs @ to_model.T
    origin = to_model @ (-cam.t)
    c, r = np.asarray(ellipsoid.center), np.asarray(ellipsoid.radii)
    o, dd = (origin - c) / r, d / r
    a = np.einsum("hwk,hwk->hw", dd, dd)
    b = 2.0 * dd @ o
    disc = b * b - 4.0 * a * (o @ o - 1.0)
    hit = disc > 0
    dist = np.where(hit, (-b - np.sqrt(np.where(hit, disc, 0.0))) / (2.0 * a), np.inf)
    points = origin + np.where(hit, dist, 0.0)[..., None] * d
    return dist, points


def _normals(ellipsoid: Ellipsoid, points: np.ndarray, R: np.ndarray) -> np.ndarray:
    n = (points - np.asarray(ellipsoid.center)) / np.square(np.asarray(ellipsoid.radii))
    n = n @ R.T
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)


def _poly_mask(shape: tuple[int, int], points: np.ndarray, *, convex: bool = False) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    pts = _fixed(points)
    if convex:
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 255, cv2.LINE_AA, SUBPIXEL_BITS)
    else:
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, SUBPIXEL_BITS)
    return mask.astype(np.float32) / 255.0


def _paint(canvas: np.ndarray, alpha: np.ndarray, colour) -> None:
    """Blend a flat colour into ``canvas`` in place with coverage ``alpha``, only inside alpha's bounding box."""
    x, y, w, h = cv2.boundingRect((alpha > 0).astype(np.uint8))
    if w == 0 or h == 0:
        return
    a = alpha[y : y + h, x : x + w, None]
    region = canvas[y : y + h, x : x + w]
    region *= 1.0 - a
    region += a * np.asarray(colour, dtype=np.float32)


def _draw_body(image: np.ndarray, cam: _Camera, spec: FaceSpec) -> None:
    """Shoulders and neck, drawn behind the head."""
    h, w = image.shape[:2]
    theta = np.linspace(0, 2 * np.pi, 40)
    shoulders = np.stack([1.7 * np.cos(theta), -2.15 + 0.75 * np.sin(theta), np.full_like(theta, -1.0)], 1)
    _paint(image, _poly_mask((h, w), cam.project(shoulders)), spec.appearance.clothes)
    neck = np.array([[-0.42, -0.2, -1.0], [0.42, -0.2, -1.0], [0.46, -1.5, -1.0], [-0.46, -1.5, -1.0]])
    neck_colour = np.asarray(spec.appearance.skin) * (0.45 + 0.4 * spec.lighting.ambient)
    _paint(image, _poly_mask((h, w), cam.project(neck)), neck_colour)


def _patch_bounds(cam: _Camera, width: int, height: int) -> tuple[int, int, int, int]:
    c, r = np.asarray(HAIR_SHELL.center), np.asarray(HAIR_SHELL.radii)
    corners = c + r * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    uv = cam.project(corners)
    x0, y0 = np.floor(uv.min(0)).astype(int) - 2
    x1, y1 = np.ceil(uv.max(0)).astype(int) + 2
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def _blob(shape: tuple[int, int], centre, axes: tuple[int, int], sigma: float) -> np.ndarray:
    """A soft filled ellipse (coverage in [0, 1])."""
    mask = np.zeros(shape, np.float32)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), max(sigma, 0.5))


def _stroke(shape: tuple[int, int], points: np.ndarray, thickness: int) -> np.ndarray:
    """An anti-aliased open polyline through ``points`` (coverage in [0, 1])."""
    mask = np.zeros(shape, np.float32)
    cv2.polylines(mask, [_fixed(points)], False, 1.0, thickness, cv2.LINE_AA, SUBPIXEL_BITS)
    return mask


def _disc(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    c = tuple(int(v) for v in _fixed(centre))
    cv2.circle(mask, c, int(radius * (1 << SUBPIXEL_BITS)), 1.0, -1, cv2.LINE_AA, SUBPIXEL_BITS)
    return mask


def _paint_eyes(albedo: np.ndarray, lm: np.ndarray, app: Appearance, eye_width: float, line: int) -> None:
    """Eye sockets, eye shadow, brows, and each eye (sclera, iris, pupil, upper lid)."""
    shape = albedo.shape[:2]
    for outer, inner in ((60, 64), (72, 68)):
        axes = (max(1, int(eye_width * 0.75)), max(1, int(eye_width * 0.5)))
        socket = _blob(shape, (lm[outer] + lm[inner]) / 2.0, axes, eye_width * 0.25)
        _paint(albedo, 0.35 * socket, np.asarray(app.skin, np.float32) * 0.55)
    if app.eyeshadow is not None:
        for ring in ((60, 61, 62, 63, 64, 38, 39, 40, 41), (68, 69, 70, 71, 72, 47, 48, 49, 50)):
            _paint(albedo, 0.6 * _poly_mask(shape, lm[list(ring)]), app.eyeshadow)
    brow = np.asarray(app.hair, np.float32) * 0.7 + 0.02
    for idx in (BROW_LEFT, BROW_RIGHT):
        _paint(albedo, 0.9 * _poly_mask(shape, lm[list(idx)]), brow)
    iris_radius = 0.22 * eye_width
    lid_thickness = line + (line if app.eyeshadow is not None else 0)
    for eye, pupil in ((EYE_LEFT, 96), (EYE_RIGHT, 97)):
        opening = _poly_mask(shape, lm[list(eye)])
        _paint(albedo, opening, (0.86, 0.84, 0.8))
        _paint(albedo, _disc(shape, lm[pupil], iris_radius) * opening, app.iris)
        _paint(albedo, _disc(shape, lm[pupil], 0.45 * iris_radius) * opening, (0.03, 0.02, 0.02))
        _paint(albedo, _stroke(shape, lm[list(eye[:5])], lid_thickness), (0.12, 0.07, 0.05))  # 60..64, 68..72


def _paint_nose_and_cheeks(albedo: np.ndarray, lm: np.ndarray, app: Appearance, eye_width: float) -> None:
    """Nostrils, and blush when the face wears make-up."""
    shape = albedo.shape[:2]
    size = max(1, int(np.linalg.norm(lm[55] - lm[59]) * 0.13))
    for a, b in ((55, 56), (58, 59)):
        c = (lm[a] + lm[b]) / 2.0
        nostril = _blob(shape, (c[0], c[1] - size * 0.5), (size, max(1, size // 2)), size * 0.4)
        _paint(albedo, nostril, np.asarray(app.skin, np.float32) * 0.25)
    if app.blush:
        radius = max(1, int(eye_width * 0.5))
        for a, b in ((2, 55), (30, 59)):
            cheek = _blob(shape, 0.5 * (lm[a] + lm[b]), (radius, radius), eye_width * 0.3)
            _paint(albedo, 0.3 * cheek, (0.85, 0.35, 0.4))


def _paint_mouth(albedo: np.ndarray, lm: np.ndarray, app: Appearance, mouth_open: float, line: int) -> None:
    """Lips, the mouth interior (with teeth when open wide), and the lip line."""
    shape = albedo.shape[:2]
    _paint(albedo, _poly_mask(shape, lm[list(LIP_OUTER)]), app.lips)
    inner = _poly_mask(shape, lm[list(LIP_INNER)])
    _paint(albedo, inner, (0.18, 0.05, 0.05))
    upper_inner = lm[[88, 89, 90, 91, 92]]
    if mouth_open > 0.25:
        gap = float(np.linalg.norm(lm[90] - lm[94]))
        band = np.concatenate([upper_inner, upper_inner[::-1] + np.array([0.0, 0.3 * gap])])
        _paint(albedo, inner * _poly_mask(shape, band), (0.9, 0.88, 0.82))
    _paint(albedo, 0.8 * _stroke(shape, upper_inner, line), (0.25, 0.07, 0.07))


def _paint_features(albedo: np.ndarray, lm: np.ndarray, spec: FaceSpec) -> None:
    """Brows, eyes, nostrils, lips and make-up on the albedo (landmarks (98, 2) in patch pixels)."""
    eye_width = float(np.linalg.norm(lm[60] - lm[64]) + np.linalg.norm(lm[68] - lm[72])) / 2.0
    line = max(1, int(round(eye_width * 0.07)))
    _paint_eyes(albedo, lm, spec.appearance, eye_width, line)
    _paint_nose_and_cheeks(albedo, lm, spec.appearance, eye_width)
    _paint_mouth(albedo, lm, spec.appearance, spec.mouth_open, line)


def project_landmarks(*, spec: FaceSpec, width: int, height: int, focal: float) -> np.ndarray:
    """Where ``render_face`` would put the face's landmarks in a ``width`` x ``height`` photo, without drawing.

    Returns:
        (98, 2) pixel xy, WFLW order.
    """
    return _camera(spec, width, height, focal).project(spec.shape)


def render_face(*, image: np.ndarray, spec: FaceSpec, focal: float, texture_seed: int = 0) -> RenderedFace:
    """Draw one face (body, neck, head, hair, facial features) into ``image`` in place.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1]; modified in place.
        spec: the face to draw.
        focal: camera focal length in pixels (principal point at the image centre).
        texture_seed: seed of the skin texture noise.

    Returns:
        RenderedFace with the projected landmarks and the face/head masks.
    """
    height, width = image.shape[:2]
    cam = _camera(spec, width, height, focal)
    landmarks = cam.project(spec.shape)
    _draw_body(image, cam, spec)
    x0, y0, x1, y1 = _patch_bounds(cam, width, height)
    face_mask = np.zeros((height, width), bool)
    head_mask = np.zeros((height, width), bool)
    if x1 <= x0 or y1 <= y0:
        return RenderedFace(landmarks=landmarks, face_mask=face_mask, head_mask=head_mask)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    d_head, p_head = _ray_cast(cam, HEAD, xs, ys)
    d_nose, p_nose = _ray_cast(cam, NOSE, xs, ys)
    d_hair, p_hair = _ray_cast(cam, HAIR_SHELL, xs, ys)
    nose = d_nose < d_head
    hair_only = np.isfinite(d_hair) & (p_hair[..., 1] > HAIR_MIN_Y) & ~np.isfinite(d_head) & ~np.isfinite(d_nose)
    normals = np.where(nose[..., None], _normals(NOSE, p_nose, cam.R), _normals(HEAD, p_head, cam.R))
    normals = np.where(hair_only[..., None], _normals(HAIR_SHELL, p_hair, cam.R), normals)
    solid = np.isfinite(d_head) | np.isfinite(d_nose) | hair_only

    outline = np.concatenate([cam.project(spec.shape[list(CONTOUR)]), cam.project(forehead_points())])
    offset = np.array([x0, y0], dtype=np.float64)
    region = _poly_mask((y1 - y0, x1 - x0), outline - offset, convex=True)
    rng = np.random.default_rng(texture_seed)
    noise = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    skin = np.asarray(spec.appearance.skin, np.float32) * (1.0 + 0.04 * noise[..., None])
    albedo = np.broadcast_to(skin, (y1 - y0, x1 - x0, 3)).copy()
    face_layer = albedo.copy()
    _paint_features(face_layer, landmarks - offset, spec)
    visible_face = region * (~nose).astype(np.float32)
    albedo = albedo * (1 - visible_face[..., None]) + face_layer * visible_face[..., None]
    if not spec.appearance.bald:
        hair = ((1.0 - region) > 0.5) & (hair_only | (np.isfinite(d_head) & (p_head[..., 1] > 0.25)))
        albedo[hair] = np.asarray(spec.appearance.hair, np.float32)
    colour = _shade(albedo, normals, spec.lighting)
    alpha = cv2.GaussianBlur(solid.astype(np.float32), (0, 0), 0.6)[..., None]
    patch = image[y0:y1, x0:x1]
    patch[...] = patch * (1 - alpha) + np.clip(colour, 0, 1) * alpha
    face_mask[y0:y1, x0:x1] = (region > 0.5) & solid
    head_mask[y0:y1, x0:x1] = solid
    return RenderedFace(landmarks=landmarks, face_mask=face_mask, head_mask=head_mask)


def _shade(albedo: np.ndarray, normals: np.ndarray, light: Lighting) -> np.ndarray:
    direction = np.asarray(light.direction, np.float64)
    direction = direction / np.linalg.norm(direction)
    lambert = np.clip(normals @ direction, 0.0, None)
    half = direction + np.array([0.0, 0.0, 1.0])
    half = half / np.linalg.norm(half)
    spec = light.specular * np.clip(normals @ half, 0.0, None) ** 24
    shade = (light.ambient + light.diffuse * lambert)[..., None]
    return (albedo * shade + spec[..., None]).astype(np.float32)
