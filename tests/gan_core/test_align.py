"""FFHQ alignment against the published procedure (NVlabs ffhq-dataset), run on skimage's astronaut."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from gan_core.align import AlignConfig, align_face, ffhq_quad
from gan_core.homography import apply_homography, square_corners

DATA = Path(__file__).resolve().parents[1] / "data" / "ffhq"
REFERENCE = json.loads((DATA / "astronaut_reference.json").read_text())
SMALL = AlignConfig(output_size=128, transform_size=512)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_quad_equals_the_published_procedure_on_the_same_68_points():
    lm = np.array(REFERENCE["landmarks68_dlib"], dtype=float)
    quad, qsize = ffhq_quad(landmarks68=lm)
    assert np.allclose(quad, REFERENCE["quad_dlib"], atol=1e-9) and qsize == pytest.approx(REFERENCE["qsize"])


@pytest.mark.parametrize("name", ["full", "corner"])
def test_aligned_image_matches_the_published_procedure(name):
    """'corner' crops the photo so the face touches its border: the reflect padding and its fill run too."""
    case = REFERENCE["images"][name]
    dx, dy = case["offset_xy"]
    photo = np.ascontiguousarray(skimage.data.astronaut()[dy:, dx:])
    lm = np.array(REFERENCE["landmarks68_dlib"], dtype=float) - [dx, dy] + 0.5  # project convention
    aligned, record = align_face(image=photo, landmarks68=lm, config=SMALL)
    reference = cv2.cvtColor(cv2.imread(str(DATA / case["file"])), cv2.COLOR_BGR2RGB)
    assert aligned.shape == (128, 128, 3) and list(record.pad) == case["pad"]
    assert psnr(aligned, reference) >= 40.0  # bilinear + area filter here, PIL bilinear + Lanczos there
    expected_quad = np.array(REFERENCE["quad_dlib"]) - [dx, dy] + 0.5
    assert np.allclose(record.quad_array(), expected_quad, atol=1e-9)
    corners = apply_homography(matrix=record.to_original(), points=square_corners(128))
    assert np.allclose(corners, expected_quad, atol=1e-6)


def test_a_huge_photo_is_shrunk_first_and_the_quad_stays_in_original_pixels():
    photo = skimage.data.astronaut()
    big = cv2.resize(photo, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    lm = np.array(REFERENCE["landmarks68_dlib"], dtype=float) + 0.5
    small_aligned, small = align_face(image=photo, landmarks68=lm, config=SMALL)
    big_aligned, record = align_face(image=big, landmarks68=lm * 4.0, config=SMALL)
    assert small.shrink == 1 and record.shrink == int(np.floor(4 * small.qsize / 128 * 0.5)) >= 2
    assert np.allclose(record.quad_array(), small.quad_array() * 4.0, atol=1e-9)
    assert psnr(big_aligned, small_aligned) >= 30.0  # the same face, through a shrink instead of none


def test_without_padding_the_outside_is_black():
    lm = np.array(REFERENCE["landmarks68_dlib"], dtype=float) - [150, 70] + 0.5
    photo = np.ascontiguousarray(skimage.data.astronaut()[70:, 150:])
    config = AlignConfig(output_size=128, transform_size=512, enable_padding=False)
    aligned, record = align_face(image=photo, landmarks68=lm, config=config)
    assert record.pad == (0, 0, 0, 0) and aligned[:4, :4].max() == 0
