"""Matrices compose and invert; warp_affine follows the corner-origin pixel convention exactly."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_core import geometry


def test_compose_applies_right_to_left_and_inverts():
    t = geometry.translation(dx=3, dy=-2)
    r = geometry.rotation_scale(angle_deg=30, scale=1.2, center=(10, 20))
    p = np.array([[1.0, 2.0]])
    both = geometry.apply_points(matrix=geometry.compose(t, r), points=p)
    step = geometry.apply_points(matrix=t, points=geometry.apply_points(matrix=r, points=p))
    np.testing.assert_allclose(both, step)
    np.testing.assert_allclose(geometry.compose(t, r) @ geometry.invert(geometry.compose(t, r)), np.eye(3), atol=1e-12)


def test_rotation_fixes_centre_and_turns_counter_clockwise_on_screen():
    r = geometry.rotation_scale(angle_deg=90, scale=2.0, center=(5, 5))
    out = geometry.apply_points(matrix=r, points=np.array([[5.0, 5.0], [6.0, 5.0]]))
    np.testing.assert_allclose(out[0], [5, 5], atol=1e-12)
    np.testing.assert_allclose(out[1], [5, 3], atol=1e-12)  # +x turns to -y (up on screen), scaled by 2
    assert geometry.scale_of(r) == pytest.approx(2.0)


def test_flip_is_an_involution_and_crop_maps_the_square_onto_the_output():
    f = geometry.hflip(center_x=7.5)
    np.testing.assert_allclose(f @ f, np.eye(3))
    c = geometry.square_crop(center=(50, 40), side=20, size=128)
    corners = geometry.apply_points(matrix=c, points=np.array([[40.0, 30.0], [60.0, 50.0]]))
    np.testing.assert_allclose(corners, [[0, 0], [128, 128]])


def test_invert_rejects_singular_and_relative_relates_two_views():
    with pytest.raises(ValueError, match="singular"):
        geometry.invert(np.diag([0.0, 1.0, 1.0]))
    a = geometry.rotation_scale(angle_deg=10, scale=1.0, center=(3, 3))
    b = geometry.translation(dx=4, dy=1) @ a
    np.testing.assert_allclose(geometry.relative(source=a, target=b), geometry.translation(dx=4, dy=1), atol=1e-12)


def test_apply_points_batched():
    m = np.stack([geometry.translation(dx=1, dy=0), geometry.translation(dx=0, dy=2)])
    pts = np.zeros((2, 3, 2))
    out = geometry.apply_points(matrix=m, points=pts)
    np.testing.assert_allclose(out[0], [[1, 0]] * 3)
    np.testing.assert_allclose(out[1], [[0, 2]] * 3)


def _dot_image(h: int, w: int, row: int, col: int) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    image[row, col] = 255
    return image


def test_warp_moves_a_pixel_by_the_matrix_with_pixel_centres_at_half_integers():
    image = _dot_image(32, 32, row=10, col=7)
    out = geometry.warp_affine(image=image, matrix=geometry.translation(dx=3, dy=5), size=32)
    assert np.unravel_index(out[..., 0].argmax(), out.shape[:2]) == (15, 10)
    # A 2x upscale about the corner origin: pixel centre (7.5, 10.5) goes to (15, 21), i.e. between pixels.
    up = geometry.warp_affine(image=image, matrix=np.diag([2.0, 2.0, 1.0]), size=64)
    ys, xs = np.nonzero(up[..., 0] > 100)
    assert xs.mean() == pytest.approx(14.5) and ys.mean() == pytest.approx(20.5)


def test_warp_rotation_by_90_degrees_about_the_centre_equals_rot90():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    r = geometry.rotation_scale(angle_deg=90, scale=1.0, center=(8, 8))
    np.testing.assert_array_equal(geometry.warp_affine(image=image, matrix=r, size=16), np.rot90(image, k=1))


def test_large_shrink_area_reduces_only_the_visible_region_and_keeps_the_mapping():
    # A 400x400 image whose left half is white: a 4x shrink keeps the edge where the matrix says it is.
    image = np.zeros((400, 400, 3), np.uint8)
    image[:, :200] = 255
    stripes = image.copy()
    stripes[::2] = 0  # a 1-pixel stripe pattern must average to grey, not alias
    m = geometry.square_crop(center=(200, 200), side=400, size=100)
    out = geometry.warp_affine(image=image, matrix=m, size=100)
    assert out[50, 48, 0] == 255 and out[50, 51, 0] == 0
    grey = geometry.warp_affine(image=stripes, matrix=m, size=100)[10:90, 5:45, 0]
    assert abs(float(grey.mean()) - 127.5) < 3 and grey.std() < 3
