"""Paste-back: the round trip through alignment reproduces the photo inside the face and nothing outside moves."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from gan_core.align import AlignConfig, align_face
from gan_core.detect import DlibFaceDetector
from gan_core.homography import warp_perspective
from gan_core.paste import alpha_matte, paste_back, to_photo
from landmark_core.synth.dataset import SYNTH_DIR
from landmark_core.wflw import IMAGES_DIR


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def twin_face(synth_root):
    """The largest face dlib finds in the twin's training images, with its photo and its true face mask."""
    truth = pd.read_parquet(synth_root / SYNTH_DIR / "truth_train.parquet")
    detector = DlibFaceDetector()
    best = None
    for image_rel, rows in truth.groupby("image"):
        photo = cv2.imread(str(synth_root / IMAGES_DIR / image_rel))
        for found in detector.detect(image_rgb=cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)):
            cx, cy = (found.box[0] + found.box[2]) / 2, (found.box[1] + found.box[3]) / 2
            for _, row in rows.iterrows():
                mask = cv2.imread(str(synth_root / row["mask"]), cv2.IMREAD_GRAYSCALE)
                if mask[int(cy), int(cx)] and (best is None or found.pixels > best[1].pixels):
                    best = (photo, found, mask)
    assert best is not None, "dlib found no face of the twin"
    return best


def test_round_trip_reproduces_the_face_and_leaves_everything_outside_the_matte(twin_face):
    photo, found, mask = twin_face
    aligned, record = align_face(image=photo, landmarks68=found.landmarks68, config=AlignConfig())
    assert aligned.shape == (1024, 1024, 3)
    to_aligned = np.linalg.inv(record.to_original())
    mask_aligned = warp_perspective(image=mask, matrix=to_aligned, width=1024, height=1024)
    alpha = alpha_matte(mask=mask_aligned > 127, sigma=4.0)
    pasted, matte = paste_back(photo=photo, aligned=aligned, alpha=alpha, record=record)
    inside = (mask > 127) & (cv2.erode(mask, np.ones((5, 5), np.uint8)) > 127)
    assert psnr(pasted[inside], photo[inside]) >= 35.0
    assert np.array_equal(pasted[matte == 0], photo[matte == 0])
    assert matte.max() == pytest.approx(1.0, abs=1e-3) and (matte > 0).sum() < mask.size


def test_an_edit_changes_only_pixels_under_the_matte(twin_face):
    photo, found, mask = twin_face
    small = AlignConfig(output_size=256, transform_size=1024)
    aligned, record = align_face(image=photo, landmarks68=found.landmarks68, config=small)
    edited = np.zeros_like(aligned)
    edited[..., 2] = 255  # a pure red face (BGR)
    alpha = np.zeros((256, 256), np.float32)
    alpha[64:192, 64:192] = 1.0
    pasted, matte = paste_back(photo=photo, aligned=edited, alpha=alpha, record=record)
    changed = np.any(pasted != photo, axis=2)
    assert changed.any() and not changed[matte == 0].any()
    full = matte > 0.999
    assert (pasted[full][:, 2] == 255).all() and (pasted[full][:, :2] == 0).all()


def test_to_photo_reduces_a_large_aligned_image_before_warping():
    from gan_core.align import AlignRecord

    quad = ((10.0, 10.0), (10.0, 42.0), (42.0, 42.0), (42.0, 10.0))  # a 32-px footprint of a 1024 square
    record = AlignRecord(quad=quad, qsize=32.0, shrink=1, crop=(0, 0, 64, 64), pad=(0, 0, 0, 0), output_size=1024)
    stripes = np.zeros((1024, 1024), np.float32)
    stripes[:, ::2] = 1.0  # finer than the footprint's pixels: must average to 0.5, not alias
    out = to_photo(aligned=stripes, record=record, width=64, height=64)
    assert np.allclose(out[14:38, 14:38], 0.5, atol=0.02)
