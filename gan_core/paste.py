"""Paste an edited aligned face back into its photo, through the stored alignment and a soft face mask.

The aligned square's corners go to the stored quad (``AlignRecord.to_original``, the homography of the study's
equation 3.11); the edited face is area-reduced to twice its footprint, warped into the photo (bicubic) and
blended with an alpha matte made by blurring the face-segmentation mask, so the photo's background is kept and
no seam shows. Where the matte is 0 the photo's pixels are returned untouched. The landmarks of the result are
the photo's: pasting moves no geometry.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from gan_core.align import AlignRecord
from gan_core.homography import warp_perspective


def alpha_matte(*, mask: np.ndarray, sigma: float) -> np.ndarray:
    """A binary mask blurred (Gaussian, ``sigma`` pixels) into an alpha matte in [0, 1].

    Shapes:
        mask (H, W) bool or uint8 (nonzero = face) -> (H, W) float32.
    """
    alpha = (np.asarray(mask) > 0).astype(np.float32)
    if sigma > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    return np.clip(alpha, 0.0, 1.0)


def to_photo(
    *,
    aligned: np.ndarray,
    record: AlignRecord,
    width: int,
    height: int,
    interpolation: int = cv2.INTER_LINEAR,
    oversample: float = 2.0,
) -> np.ndarray:
    """Warp an aligned-frame image (or matte) into the photo's frame; 0 outside the quad.

    An aligned image larger than ``oversample`` times its footprint in the photo is first area-reduced to that
    size (the homography is adjusted exactly), so the warp neither aliases nor blurs more than it must.

    Shapes:
        aligned (S, S[, C]) with S = record.output_size -> (height, width[, C]), same dtype.
    """
    to_original = record.to_original()
    side = int(math.ceil(oversample * record.qsize))
    if side < record.output_size:
        aligned = cv2.resize(aligned, (side, side), interpolation=cv2.INTER_AREA)
        to_original = to_original @ np.diag([record.output_size / side, record.output_size / side, 1.0])
    return warp_perspective(image=aligned, matrix=to_original, width=width, height=height, interpolation=interpolation)


def paste_back(
    *, photo: np.ndarray, aligned: np.ndarray, alpha: np.ndarray, record: AlignRecord
) -> tuple[np.ndarray, np.ndarray]:
    """Blend an (edited) aligned face into the photo.

    Args:
        photo: (H, W, 3) uint8 original photo.
        aligned: (S, S, 3) uint8 edited aligned face, S = record.output_size.
        alpha: (S, S) float32 matte in [0, 1] in the aligned frame (see ``alpha_matte``).
        record: the face's alignment record.

    Returns:
        The pasted photo (H, W, 3) uint8, and the matte in the photo's frame (H, W) float32.
    """
    h, w = photo.shape[:2]
    face = to_photo(aligned=aligned, record=record, width=w, height=h, interpolation=cv2.INTER_CUBIC)
    face = face.astype(np.float32)
    matte = np.clip(to_photo(aligned=alpha.astype(np.float32), record=record, width=w, height=h), 0.0, 1.0)
    out = photo.astype(np.float32)
    inside = matte > 0
    a = matte[inside][:, None]
    out[inside] = a * face[inside] + (1.0 - a) * out[inside]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), matte
