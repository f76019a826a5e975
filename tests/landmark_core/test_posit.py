"""POSIT recovers the pose of an exact perspective projection and refuses what has no pose."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_core.headpose import mean_face_3d, rotation_from_pose
from landmark_core.posit import PoseError, posit


def _view(rotation: np.ndarray, translation: np.ndarray, focal: float) -> np.ndarray:
    camera = (rotation @ mean_face_3d().T).T + translation
    return focal * camera[:, :2] / camera[:, 2:3]


@pytest.mark.parametrize(("angles", "depth"), [((0, 0, 0), 6.0), ((30, -15, 10), 4.0), ((-55, 20, -35), 3.0)])
def test_an_exact_projection_gives_back_its_pose_and_position(angles, depth):
    rotation = rotation_from_pose(yaw=angles[0], pitch=angles[1], roll=angles[2])
    translation = np.array([0.4, -0.3, depth])
    rotation_out, translation_out = posit(
        model=mean_face_3d(), image=_view(rotation, translation, 800.0), focal=800.0, reference=54
    )
    np.testing.assert_allclose(rotation_out, rotation, atol=1e-6)
    np.testing.assert_allclose(translation_out, translation, atol=1e-6)
    np.testing.assert_allclose(rotation_out @ rotation_out.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation_out) == pytest.approx(1.0)


def test_a_distant_object_falls_back_to_the_scaled_orthographic_pose():
    rotation = rotation_from_pose(yaw=20, pitch=5, roll=-5)
    image = _view(rotation, np.array([0.0, 0.0, 1e4]), 1e6)  # a tiny face far away: almost orthographic
    rotation_out, _ = posit(model=mean_face_3d(), image=image, focal=1e6, reference=54)
    np.testing.assert_allclose(rotation_out, rotation, atol=1e-4)


@pytest.mark.parametrize(
    ("model", "image", "message"),
    [
        (np.zeros((3, 3)), np.zeros((3, 2)), "N >= 4"),
        (np.c_[np.random.default_rng(0).normal(size=(8, 2)), np.zeros(8)], np.ones((8, 2)), "non-coplanar"),
        (mean_face_3d(), np.full((98, 2), 5.0), "collapsed"),
        (mean_face_3d(), np.full((98, 2), np.nan), "finite"),
    ],
)
def test_what_has_no_pose_is_refused_with_the_reason(model, image, message):
    with pytest.raises(PoseError, match=message):
        posit(model=model, image=image, focal=500.0)
