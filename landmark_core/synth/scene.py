"""Photo-like scenes around the synthetic faces, and the WFLW conditions that act on the picture.

Backgrounds are gradients with blurred clutter and multi-octave noise; occluders are objects drawn over
part of a face (their pixel mask decides which landmarks are hidden); blur is Gaussian or motion blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

OCCLUDER_KINDS: tuple[str, ...] = ("block", "hand", "sunglasses", "scarf")


def background(*, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A photo-like background.

    Returns:
        (height, width, 3) float32 RGB in [0, 1].
    """
    top, bottom = rng.uniform(0.1, 0.9, 3), rng.uniform(0.05, 0.8, 3)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    image = (top * (1 - ramp) + bottom * ramp).astype(np.float32) * np.ones((1, width, 1), np.float32)
    for _ in range(rng.integers(4, 12)):
        colour = tuple(float(v) for v in rng.uniform(0.0, 1.0, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.6:
            w, h = int(rng.integers(width // 12, width // 2)), int(rng.integers(height // 12, height // 2))
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
        else:
            axes = (int(rng.integers(width // 20, width // 4)), int(rng.integers(height // 20, height // 4)))
            cv2.ellipse(image, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(1.0, 4.0)))
    for octave, amplitude in ((4, 0.04), (16, 0.03), (64, 0.012)):
        noise = rng.normal(0.0, 1.0, (octave, octave, 3)).astype(np.float32)
        image += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image, 0.0, 1.0)


@dataclass(frozen=True)
class Occluder:
    """An object over part of a face.

    Attributes:
        kind: one of OCCLUDER_KINDS.
        colour: RGB in [0, 1].
        anchor: WFLW landmark index the object is centred on (block and hand).
        size: object size as a fraction of the face width.
        angle: rotation in degrees.
    """

    kind: str
    colour: tuple[float, float, float]
    anchor: int = 54
    size: float = 0.5
    angle: float = 0.0


def occluder_mask(*, occluder: Occluder, landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixel mask of an occluder placed on a face.

    Args:
        occluder: what to draw.
        landmarks: (98, 2) pixel xy of the face it covers.
        shape: (H, W) of the image.

    Returns:
        (H, W) float32 coverage in [0, 1].
    """
    mask = np.zeros(shape, np.float32)
    face_width = float(np.linalg.norm(landmarks[0] - landmarks[32]))
    face_width = max(face_width, float(np.ptp(landmarks[:, 0])))
    s = occluder.size * face_width
    if occluder.kind in ("block", "hand"):
        cx, cy = landmarks[occluder.anchor]
        if occluder.kind == "block":
            box = cv2.boxPoints(((float(cx), float(cy)), (s, 0.6 * s), occluder.angle))
            cv2.fillConvexPoly(mask, np.round(box).astype(np.int32), 1.0, cv2.LINE_AA)
        else:
            cv2.ellipse(mask, (int(cx), int(cy)), (int(0.5 * s), int(0.33 * s)), occluder.angle, 0, 360, 1.0, -1)
            for k in range(4):
                offset = np.array([(-0.3 + 0.2 * k) * s, -0.45 * s])
                tip = np.array([cx, cy]) + offset
                cv2.line(mask, (int(cx + offset[0] * 0.5), int(cy)), (int(tip[0]), int(tip[1])), 1.0, int(s * 0.12))
    elif occluder.kind == "sunglasses":
        for eye in (range(60, 68), range(68, 76)):
            pts = landmarks[list(eye)]
            centre = pts.mean(0)
            axes = (int(0.75 * np.ptp(pts[:, 0]) + 2), int(max(np.ptp(pts[:, 1]) * 1.6, 0.3 * np.ptp(pts[:, 0])) + 2))
            cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, 1.0, -1)
        cv2.line(mask, tuple(int(v) for v in landmarks[64]), tuple(int(v) for v in landmarks[68]), 1.0, 3)
    elif occluder.kind == "scarf":
        rim = np.concatenate([landmarks[2:31], landmarks[[59, 58, 57, 56, 55]]])
        cv2.fillPoly(mask, [np.round(rim).astype(np.int32)], 1.0, cv2.LINE_AA)
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(face_width * 0.03)))
    else:
        raise ValueError(f"unknown occluder kind {occluder.kind!r}; expected one of {OCCLUDER_KINDS}")
    return mask


def draw_occluder(*, image: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float], rng) -> None:
    """Paint an occluder (a flat colour with light texture) into ``image`` in place."""
    h, w = mask.shape
    texture = cv2.resize(rng.normal(0, 1, (12, 12)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    paint = np.clip(np.asarray(colour, np.float32) * (1.0 + 0.08 * texture[..., None]), 0, 1)
    a = mask[..., None]
    image[...] = image * (1 - a) + paint * a


def blur(*, image: np.ndarray, rng: np.random.Generator, face_width: float) -> np.ndarray:
    """Gaussian or motion blur scaled to the face size.

    Returns:
        The blurred (H, W, 3) float32 image.
    """
    if rng.random() < 0.5:
        return cv2.GaussianBlur(image, (0, 0), float(face_width * rng.uniform(0.02, 0.04)))
    length = max(3, int(face_width * rng.uniform(0.06, 0.12)) | 1)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
