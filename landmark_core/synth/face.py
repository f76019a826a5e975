"""3D geometry of a synthetic face: the mean 3D face, per-identity shape, expressions, and the head volumes.

Everything is in the model coordinates of ``landmark_core.headpose`` (x right, y up, z toward the viewer,
nose tip at the origin; the mean face is about 1.42 units wide).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmark_core.headpose import mean_face_3d

FACE_WIDTH_UNITS = 1.42  # distance between contour points 0 and 32 of the mean face

# WFLW index groups (image-left = subject's right).
CONTOUR = tuple(range(0, 33))
BROW_LEFT = tuple(range(33, 42))
BROW_RIGHT = tuple(range(42, 51))
NOSE_BRIDGE = (51, 52, 53, 54)
NOSTRILS = (55, 56, 57, 58, 59)
EYE_LEFT = tuple(range(60, 68))
EYE_RIGHT = tuple(range(68, 76))
LIP_OUTER = tuple(range(76, 88))
LIP_INNER = tuple(range(88, 96))
PUPILS = (96, 97)
LOWER_LIP = (83, 84, 85, 86, 87, 93, 94, 95)
MOUTH_CORNERS = (76, 82, 88, 92)


@dataclass(frozen=True)
class Ellipsoid:
    """An axis-aligned ellipsoid in model coordinates (centre and radii, model units)."""

    center: tuple[float, float, float]
    radii: tuple[float, float, float]


HEAD = Ellipsoid(center=(0.0, 0.1, -0.95), radii=(0.78, 1.05, 0.75))
HAIR_SHELL = Ellipsoid(center=(0.0, 0.16, -0.97), radii=(0.86, 1.12, 0.84))
NOSE = Ellipsoid(center=(0.0, 0.15, -0.19), radii=(0.12, 0.27, 0.19))
HAIR_MIN_Y = 0.35  # the hair shell only covers the head above this height


@dataclass(frozen=True)
class Expression:
    """Expression deformations, each in [0, 1] (0 = neutral).

    Attributes:
        mouth_open: jaw drop (lower lip and chin move down).
        smile: mouth corners move out and up.
        brow_raise: eyebrows move up.
        squint: upper eyelids move down toward the lower lids.
    """

    mouth_open: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0
    squint: float = 0.0


@dataclass(frozen=True)
class Identity:
    """Per-person shape variation of the mean face (multiplicative scales near 1, offsets in model units)."""

    width: float = 1.0
    height: float = 1.0
    eye_spacing: float = 1.0
    nose_length: float = 1.0
    mouth_width: float = 1.0
    jitter_seed: int = 0
    jitter: float = 0.0


def face_shape(*, identity: Identity, expression: Expression) -> np.ndarray:
    """The 98 model-space landmarks of one person with one expression.

    Returns:
        (98, 3) float64 model coordinates, WFLW order.
    """
    p = mean_face_3d().copy()
    p[:, 0] *= identity.width
    p[:, 1] *= identity.height
    eyes = list(EYE_LEFT + EYE_RIGHT + PUPILS + BROW_LEFT + BROW_RIGHT)
    p[eyes, 0] *= identity.eye_spacing
    nose = list(NOSE_BRIDGE + NOSTRILS)
    p[nose, 1] = p[51, 1] + (p[nose, 1] - p[51, 1]) * identity.nose_length
    mouth = list(LIP_OUTER + LIP_INNER)
    p[mouth, 0] *= identity.mouth_width
    if identity.jitter > 0:
        p += np.random.default_rng(identity.jitter_seed).normal(0.0, identity.jitter, size=p.shape)
    return _apply_expression(p, expression)


def _apply_expression(p: np.ndarray, e: Expression) -> np.ndarray:
    drop = 0.22 * e.mouth_open
    p[list(LOWER_LIP), 1] -= drop
    p[list(MOUTH_CORNERS), 1] -= 0.4 * drop
    chin = np.arange(6, 27)
    weight = np.clip(1.0 - np.abs(chin - 16) / 10.5, 0.0, 1.0)
    p[chin, 1] -= 0.8 * drop * weight
    lift = 0.07 * e.smile
    for idx, side in ((76, -1), (88, -1), (82, 1), (92, 1)):
        p[idx, 0] += side * lift
        p[idx, 1] += lift
    p[[77, 78, 80, 81, 87, 83], 1] += 0.5 * lift
    p[list(BROW_LEFT + BROW_RIGHT), 1] += 0.09 * e.brow_raise
    for upper, lower in (((61, 62, 63), (67, 66, 65)), ((69, 70, 71), (75, 74, 73))):
        p[list(upper), 1] += 0.7 * e.squint * (p[list(lower), 1] - p[list(upper), 1])
    return p


def forehead_points(n: int = 11) -> np.ndarray:
    """Points on the head surface along the hairline, image-left to image-right.

    Returns:
        (n, 3) model coordinates; together with the contour they outline the face region.
    """
    x = np.linspace(-0.72, 0.72, n)
    y = 0.55 + 0.38 * np.sqrt(np.clip(1.0 - (x / 0.78) ** 2, 0.0, 1.0))
    return np.stack([x, y, surface_z(HEAD, x, y)], axis=1)


def surface_z(ellipsoid: Ellipsoid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z of the front surface of an ellipsoid at model (x, y) (the centre's z outside its footprint)."""
    (cx, cy, cz), (rx, ry, rz) = ellipsoid.center, ellipsoid.radii
    inside = 1.0 - ((x - cx) / rx) ** 2 - ((y - cy) / ry) ** 2
    return cz + rz * np.sqrt(np.clip(inside, 0.0, None))
