from __future__ import annotations

import numpy as np
import pytest

from landmark_core.headpose import (
    HeadPose,
    camera_matrix,
    estimate_head_pose,
    mean_face_3d,
    pose_from_rotation,
    project_points,
    rotation_from_pose,
)


def _project(yaw=0.0, pitch=0.0, roll=0.0, width=640, height=480, focal=None, distance=8.0):
    K = camera_matrix(width=width, height=height, focal=focal)
    R = rotation_from_pose(yaw=yaw, pitch=pitch, roll=roll)
    return project_points(points=mean_face_3d(), rotation=R, translation=np.array([0.1, -0.2, distance]), K=K)


def test_mean_face_is_the_shipped_table():
    face = mean_face_3d()
    assert face.shape == (98, 3)
    np.testing.assert_allclose(face[54], 0.0, atol=1e-9)  # nose tip at the origin
    assert face[60, 0] < 0 < face[72, 0]  # eye corners: image-left then image-right
    assert not face.flags.writeable


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, -10, 5), (-60, 20, -40), (10, 35, 80)])
def test_rotation_and_angles_are_inverse(angles):
    yaw, pitch, roll = angles
    R = rotation_from_pose(yaw=yaw, pitch=pitch, roll=roll)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    pose = pose_from_rotation(R)
    np.testing.assert_allclose((pose.yaw, pose.pitch, pose.roll), angles, atol=1e-9)


def test_sign_conventions_as_documented():
    base = _project()
    nose_shift = _project(yaw=20)[54, 0] - _project(yaw=20)[[60, 72], 0].mean()
    assert nose_shift > base[54, 0] - base[[60, 72], 0].mean()  # positive yaw: face turns to image right
    tilted = _project(pitch=20)
    assert tilted[54, 1] - tilted[[60, 72], 1].mean() > base[54, 1] - base[[60, 72], 1].mean()  # looks down
    rolled = _project(roll=20)
    assert rolled[72, 1] < rolled[60, 1]  # counter-clockwise in the image: right eye goes up


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, -10, 8), (-50, 15, -20), (5, -30, 40)])
def test_estimate_recovers_an_exact_projection(angles):
    landmarks = _project(*angles)
    pose = estimate_head_pose(landmarks=landmarks, width=640, height=480)
    np.testing.assert_allclose((pose.yaw, pose.pitch, pose.roll), angles, atol=1e-3)


def test_estimate_is_robust_to_noise_and_an_unknown_focal():
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(20):
        angles = rng.uniform([-40, -20, -30], [40, 20, 30])
        landmarks = _project(*angles, focal=900.0) + rng.normal(0, 1.0, (98, 2))
        pose = estimate_head_pose(landmarks=landmarks, width=640, height=480)  # assumes focal 640
        errors.append(np.abs(np.array([pose.yaw, pose.pitch, pose.roll]) - angles))
    assert np.median(np.concatenate(errors)) < 2.0


def test_frontal_rule():
    assert HeadPose(12.4, -12.4, 0).is_frontal()
    assert not HeadPose(12.5, 0, 0).is_frontal()
    assert not HeadPose(0, 0, -13).is_frontal()
