from __future__ import annotations

import cv2
import numpy as np
import pytest

from gan_core.homography import apply_homography, homography_from_points, square_corners, warp_perspective


def test_four_point_solution_matches_opencv_and_maps_the_points():
    source = square_corners(1024.0)
    target = np.array([[142.3, 15.5], [133.7, 189.0], [307.1, 197.6], [330.0, 20.0]])
    h = homography_from_points(source=source, target=target)
    reference = cv2.getPerspectiveTransform(source.astype(np.float32), target.astype(np.float32))
    assert np.allclose(h, reference, rtol=1e-5, atol=1e-8)
    assert np.allclose(apply_homography(matrix=h, points=source), target, atol=1e-9)
    inverse = homography_from_points(source=target, target=source)
    assert np.allclose(inverse @ h / (inverse @ h)[2, 2], np.eye(3), atol=1e-9)


def test_collinear_points_are_refused():
    with pytest.raises(ValueError, match="collinear"):
        homography_from_points(source=np.array([[0, 0], [1, 1], [2, 2], [0, 5.0]]), target=square_corners(1.0))


def test_warp_follows_the_pixel_centre_convention():
    image = np.zeros((8, 8), np.float32)
    image[2, 5] = 1.0  # pixel (row 2, col 5): centre at (5.5, 2.5)
    shift = np.array([[1.0, 0, 3.0], [0, 1.0, 1.0], [0, 0, 1.0]])
    out = warp_perspective(image=image, matrix=shift, width=12, height=12)
    assert out[3, 8] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)
