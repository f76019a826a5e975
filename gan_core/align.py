"""FFHQ alignment, as NVIDIA built the FFHQ dataset (and the study's StyleGAN2 encoder aligned its inputs), with
the transform kept so an edited face can be pasted back.

From dlib's 68 landmarks: the eye and mouth averages define an oriented square ``quad`` centred at
eye_avg + 0.1 eye_to_mouth, of half-size max(2 |eye_to_eye|, 1.8 |eye_to_mouth|). The image is shrunk when the
face is much larger than the output, cropped to the quad plus a border, reflect-padded (with a blurred,
median-filled fill) where the quad leaves the image, and the quad is resampled to the output square through a
4x supersampled intermediate. Every step is a 3x3 matrix, so the quad in original-image coordinates (what the
paste-back needs) is exact. Coordinates are the project's: continuous pixel xy, pixel (i, j) centred at
(j + 0.5, i + 0.5); dlib's integer landmark indices are therefore shifted by +0.5 (FFHQ's "quad + 0.5").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gan_core.homography import homography_from_points, square_corners, warp_perspective
from landmark_core.geometry import apply_points, compose, translation

FFHQ_SIZE = 1024


@dataclass(frozen=True)
class AlignConfig:
    """FFHQ alignment settings (the published values by default).

    Attributes:
        output_size: side of the aligned image (1024 for FFHQ / StyleGAN2 config-f).
        transform_size: side of the supersampled intermediate (4096 in FFHQ).
        enable_padding: reflect-pad where the quad leaves the image (else those pixels are black).
    """

    output_size: int = FFHQ_SIZE
    transform_size: int = 4 * FFHQ_SIZE
    enable_padding: bool = True


@dataclass(frozen=True)
class AlignRecord:
    """Everything needed to go back from the aligned image to the photo.

    Attributes:
        quad: the aligned square's corners (top-left, bottom-left, bottom-right, top-right) in original-image
            pixel xy: the aligned image's point (u, v) comes from the photo through the homography that maps
            ``square_corners(output_size)`` onto ``quad``.
        qsize: the quad's side in original pixels.
        shrink: the integer factor the photo was shrunk by first (1: not shrunk).
        crop: (x0, y0, x1, y1) crop box in the shrunk photo's pixels.
        pad: (left, top, right, bottom) reflect padding added to the crop, in pixels.
        output_size: side of the aligned image.
    """

    quad: tuple[tuple[float, float], ...]
    qsize: float
    shrink: int
    crop: tuple[int, int, int, int]
    pad: tuple[int, int, int, int]
    output_size: int

    def quad_array(self) -> np.ndarray:
        """The quad as a (4, 2) float array."""
        return np.asarray(self.quad, dtype=float)

    def to_original(self) -> np.ndarray:
        """The 3x3 homography from aligned-image pixels to original-image pixels."""
        return homography_from_points(source=square_corners(self.output_size), target=self.quad_array())


def ffhq_quad(*, landmarks68: np.ndarray) -> tuple[np.ndarray, float]:
    """The FFHQ crop square of a face, in the coordinates of its landmarks.

    Args:
        landmarks68: (68, 2) iBUG-68 landmarks (dlib's order).

    Returns:
        quad (4, 2): top-left, bottom-left, bottom-right, top-right corners; qsize: its side.
    """
    lm = np.asarray(landmarks68, dtype=float)
    eye_left, eye_right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    eye_avg, eye_to_eye = (eye_left + eye_right) / 2.0, eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) / 2.0
    eye_to_mouth = mouth_avg - eye_avg
    # x: the horizontal half-axis, tilted to level the eyes and the eye-mouth line together; y: x turned 90 deg.
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x = x / math.hypot(*x) * max(2.0 * math.hypot(*eye_to_eye), 1.8 * math.hypot(*eye_to_mouth))
    y = np.array([-x[1], x[0]])
    centre = eye_avg + 0.1 * eye_to_mouth
    quad = np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])
    return quad, 2.0 * math.hypot(*x)


def plan_alignment(
    *, width: int, height: int, landmarks68: np.ndarray, config: AlignConfig = AlignConfig()
) -> AlignRecord:
    """The alignment of one face in a ``width`` x ``height`` photo, without touching pixels.

    Args:
        width, height: the photo's size in pixels.
        landmarks68: (68, 2) landmarks in the project's pixel convention (dlib indices + 0.5).
        config: sizes and padding.

    Returns:
        The record: the quad in photo pixels and the shrink, crop and pad that ``render_aligned`` applies.
    """
    quad, qsize = ffhq_quad(landmarks68=landmarks68)
    shrink = max(1, int(math.floor(qsize / config.output_size * 0.5)))
    to_small = _shrink_matrix(width, height, shrink)
    q, qs = apply_points(matrix=to_small, points=quad) - 0.5, qsize / shrink  # FFHQ's boxes use index coordinates
    border = max(int(np.rint(qs * 0.1)), 3)
    sw, sh = int(np.rint(width / shrink)), int(np.rint(height / shrink))
    x0, y0, x1, y1 = _box(q)
    crop = (max(x0 - border, 0), max(y0 - border, 0), min(x1 + border, sw), min(y1 + border, sh))
    cw, ch = crop[2] - crop[0], crop[3] - crop[1]
    x0, y0, x1, y1 = _box(q - [crop[0], crop[1]])
    pad = (max(-x0 + border, 0), max(-y0 + border, 0), max(x1 - cw + border, 0), max(y1 - ch + border, 0))
    if not config.enable_padding or max(pad) <= border - 4:
        pad = (0, 0, 0, 0)
    else:
        pad = tuple(int(p) for p in np.maximum(pad, int(np.rint(qs * 0.3))))
    return AlignRecord(
        quad=tuple(map(tuple, quad.tolist())),
        qsize=float(qsize),
        shrink=shrink,
        crop=crop,
        pad=pad,
        output_size=config.output_size,
    )


def render_aligned(*, image: np.ndarray, record: AlignRecord, config: AlignConfig = AlignConfig()) -> np.ndarray:
    """Carry out a planned alignment: shrink, crop, reflect-pad, then resample the quad to the output square.

    Shapes:
        image (H, W, 3) uint8 (channel order kept) -> (S, S, 3) uint8, S = record.output_size.
    """
    h, w = image.shape[:2]
    to_work = _shrink_matrix(w, h, record.shrink)
    work = image
    if record.shrink > 1:
        size = (int(np.rint(w / record.shrink)), int(np.rint(h / record.shrink)))
        work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = record.crop
    work = work[y0:y1, x0:x1]
    to_work = compose(translation(dx=record.pad[0] - x0, dy=record.pad[1] - y0), to_work)
    if max(record.pad) > 0:
        work = _reflect_pad(work, record.pad, record.qsize / record.shrink)
    return _resample(work, apply_points(matrix=to_work, points=record.quad_array()), config)


def align_face(
    *, image: np.ndarray, landmarks68: np.ndarray, config: AlignConfig = AlignConfig()
) -> tuple[np.ndarray, AlignRecord]:
    """Align one face FFHQ-style: ``plan_alignment`` then ``render_aligned``.

    Returns:
        The aligned (S, S, 3) uint8 image and the record that maps it back.
    """
    record = plan_alignment(width=image.shape[1], height=image.shape[0], landmarks68=landmarks68, config=config)
    return render_aligned(image=image, record=record, config=config), record


def _shrink_matrix(width: int, height: int, shrink: int) -> np.ndarray:
    """Photo pixels -> pixels of the photo shrunk by ``shrink`` (rounded size, as FFHQ resizes)."""
    if shrink <= 1:
        return np.eye(3)
    return np.diag([int(np.rint(width / shrink)) / width, int(np.rint(height / shrink)) / height, 1.0])


def _box(points: np.ndarray) -> tuple[int, int, int, int]:
    return (
        int(math.floor(points[:, 0].min())),
        int(math.floor(points[:, 1].min())),
        int(math.ceil(points[:, 0].max())),
        int(math.ceil(points[:, 1].max())),
    )


def _reflect_pad(image: np.ndarray, pad: tuple[int, int, int, int], qsize: float) -> np.ndarray:
    """Reflect-pad by ``pad`` (left, top, right, bottom); blur the padding and fade it to the median colour."""
    left, top, right, bottom = pad
    padded = np.pad(image.astype(np.float32), ((top, bottom), (left, right), (0, 0)), mode="reflect")
    ph, pw = padded.shape[:2]
    yy, xx = np.ogrid[:ph, :pw]
    # 0 inside the original pixels, rising to 1 at the outer edge of the padding.
    xx, yy = xx.astype(np.float32), yy.astype(np.float32)
    mask = np.maximum(
        1.0 - np.minimum(xx / left, (pw - 1 - xx) / right), 1.0 - np.minimum(yy / top, (ph - 1 - yy) / bottom)
    )[..., None]
    sigma = qsize * 0.02
    blurred = cv2.GaussianBlur(padded, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    padded += (blurred - padded) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    padded += (np.median(padded, axis=(0, 1)) - padded) * np.clip(mask, 0.0, 1.0)
    return np.clip(np.rint(padded), 0, 255).astype(np.uint8)


def _resample(work: np.ndarray, quad: np.ndarray, config: AlignConfig) -> np.ndarray:
    """The quad of ``work`` to the output square: bilinear at ``transform_size``, then an area reduction."""
    size = max(config.transform_size, config.output_size)
    to_square = homography_from_points(source=quad, target=square_corners(size))
    big = warp_perspective(image=work, matrix=to_square, width=size, height=size)
    if size == config.output_size:
        return big
    return cv2.resize(big, (config.output_size, config.output_size), interpolation=cv2.INTER_AREA)
