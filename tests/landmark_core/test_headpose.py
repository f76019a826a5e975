from __future__ import annotations

import numpy as np
import pytest

from landmark_core.headpose import (
    HeadPose,
    PoseError,
    camera_matrix,
    estimate_head_pose,
    mean_face_3d,
    mirror_symmetric,
    pose_from_rotation,
    project_points,
    published_mean_face_3d,
    rotation_from_pose,
    solve_head_pose,
)
from landmark_core.wflw import FLIP_PERMUTATION
from landmark_core.wflw_index import index_wflw, landmarks_array


def _project(yaw=0.0, pitch=0.0, roll=0.0, width=640, height=480, focal=None, distance=8.0):
    K = camera_matrix(width=width, height=height, focal=focal)
    R = rotation_from_pose(yaw=yaw, pitch=pitch, roll=roll)
    return project_points(points=mean_face_3d(), rotation=R, translation=np.array([0.1, -0.2, distance]), K=K)


def _face(angles, *, face_px: float, at=(0.0, 0.0), focal: float = 1024.0):
    """The landmarks of a face ``face_px`` pixels wide posed ``angles`` (toward the camera), photographed by a
    camera that makes 1024-px-wide photos, with its nose tip placed at ``at`` in the photo."""
    distance = focal * 1.42 / face_px  # the mean face is 1.42 units wide
    K = camera_matrix(width=0, height=0, focal=focal)  # principal point at (0, 0): the face on the optical axis
    R = rotation_from_pose(yaw=angles[0], pitch=angles[1], roll=angles[2])
    points = project_points(points=mean_face_3d(), rotation=R, translation=np.array([0.0, 0.0, distance]), K=K)
    return points - points[54] + np.asarray(at)


def _mirrored(landmarks: np.ndarray, width: float) -> np.ndarray:
    """The landmarks of the same face in the photo mirrored left-right (``width`` pixels wide), WFLW order."""
    flipped = np.c_[width - landmarks[:, 0], landmarks[:, 1]]
    return flipped[list(FLIP_PERMUTATION)]


def _angles(pose: HeadPose) -> np.ndarray:
    return np.array([pose.yaw, pose.pitch, pose.roll])


def test_mean_face_is_the_shipped_table_made_mirror_symmetric():
    face, shipped = mean_face_3d(), published_mean_face_3d()
    assert face.shape == shipped.shape == (98, 3)
    np.testing.assert_allclose(face[54], 0.0, atol=1e-9)  # nose tip at the origin
    assert face[60, 0] < 0 < face[72, 0]  # eye corners: image-left then image-right
    assert not face.flags.writeable and not shipped.flags.writeable
    mirror = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_array_equal((face @ mirror)[list(FLIP_PERMUTATION)], face)  # its own mirror image
    asymmetry = np.abs((shipped @ mirror)[list(FLIP_PERMUTATION)] - shipped).max()
    assert 0.05 < asymmetry < 0.25  # the shipped table is not (brows, nose base, jaw)
    np.testing.assert_allclose(face, (shipped + (shipped @ mirror)[list(FLIP_PERMUTATION)]) / 2)
    np.testing.assert_array_equal(mirror_symmetric(model=face), face)  # symmetric stays as it is


@pytest.mark.parametrize("landmark_set", ["all", "rigid"])
@pytest.mark.parametrize("angles", [(0, 0, 0), (25, -10, 8), (-50, 15, -20), (5, -30, 40), (-12, 12, -12)])
def test_a_mirrored_face_gets_the_opposite_yaw_and_roll_and_the_same_pitch(angles, landmark_set):
    face = _face(angles, face_px=120, at=(700, 3100))  # off-centre in a 1024x4000 photo
    pose = _angles(estimate_head_pose(landmarks=face, landmark_set=landmark_set))
    mirrored = _angles(estimate_head_pose(landmarks=_mirrored(face, 1024), landmark_set=landmark_set))
    np.testing.assert_allclose(mirrored, pose * [-1, 1, -1], atol=0.01)
    np.testing.assert_allclose(mirrored, np.multiply(angles, [-1, 1, -1]), atol=3.0)


@pytest.mark.parametrize("landmark_set", ["all", "rigid"])
def test_every_twin_face_and_its_mirror_get_mirrored_poses(synth_root, landmark_set):
    faces = index_wflw(root=synth_root).faces
    points = landmarks_array(faces)
    poses = np.array([_angles(estimate_head_pose(landmarks=p, landmark_set=landmark_set)) for p in points])
    widths = faces["image_width"].to_numpy(dtype=float)
    mirrored = [_mirrored(p, w) for p, w in zip(points, widths, strict=True)]
    mirror_poses = np.array([_angles(estimate_head_pose(landmarks=p, landmark_set=landmark_set)) for p in mirrored])
    assert len(poses) == len(faces) > 20
    np.testing.assert_allclose(mirror_poses, poses * [-1, 1, -1], atol=0.01)


def test_the_asymmetric_shipped_table_would_read_asymmetry_into_faces():
    face = _face((20, -5, 10), face_px=120, at=(500, 400))
    shipped = published_mean_face_3d()
    pose = _angles(estimate_head_pose(landmarks=face, model=shipped))
    mirrored = _angles(estimate_head_pose(landmarks=_mirrored(face, 1024), model=shipped))
    assert np.abs(mirrored - pose * [-1, 1, -1]).max() > 0.5  # what the symmetric model removes


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


@pytest.mark.parametrize("landmark_set", ["all", "rigid"])
@pytest.mark.parametrize("angles", [(0, 0, 0), (25, -10, 8), (-50, 15, -20), (5, -30, 40)])
def test_estimate_recovers_the_pose_of_a_projection(angles, landmark_set):
    landmarks = _face(angles, face_px=150, at=(512, 300))
    pose = estimate_head_pose(landmarks=landmarks, landmark_set=landmark_set)
    np.testing.assert_allclose((pose.yaw, pose.pitch, pose.roll), angles, atol=3.0)


@pytest.mark.parametrize("angles", [(0, 0, 0), (20, -8, 6), (-35, 12, -10)])
def test_a_face_gets_the_same_pose_in_the_centre_and_in_a_corner_of_a_tall_photo(angles):
    centre = estimate_head_pose(landmarks=_face(angles, face_px=150, at=(512, 4554)))  # of a 1024x9108 photo
    corner = estimate_head_pose(landmarks=_face(angles, face_px=150, at=(40, 9080)))  # partly outside the photo
    short = estimate_head_pose(landmarks=_face(angles, face_px=150, at=(512, 137)))  # of a 1024x275 photo
    for other in (corner, short):
        np.testing.assert_allclose(
            (other.yaw, other.pitch, other.roll), (centre.yaw, centre.pitch, centre.roll), atol=1
        )


def test_the_pose_does_not_change_with_the_size_of_the_face():
    big, small = (estimate_head_pose(landmarks=_face((18, -6, 4), face_px=px, focal=10 * px)) for px in (600, 70))
    np.testing.assert_allclose((small.yaw, small.pitch, small.roll), (big.yaw, big.pitch, big.roll), atol=1e-6)


def test_a_70_pixel_face_in_a_1024x9108_photo_gets_a_pose_from_both_estimators():
    landmarks = _face((10, 5, -4), face_px=70, at=(900, 8800))  # like the real WFLW face solvePnP failed on
    pose = estimate_head_pose(landmarks=landmarks)
    assert abs(pose.yaw - 10) < 3 and abs(pose.pitch - 5) < 3 and abs(pose.roll + 4) < 3
    rotation, _, K = solve_head_pose(landmarks=landmarks)
    fitted = pose_from_rotation(rotation)
    assert abs(fitted.yaw - 10) < 3 and K[0, 2] == pytest.approx(landmarks[54, 0])  # the face-frame camera


@pytest.mark.parametrize(
    "landmarks",
    [np.full((98, 2), 3.0), np.full((98, 2), np.nan), np.zeros((5, 2)), np.r_[np.zeros((97, 2)), [[1e-12, 0]]]],
    ids=["collapsed", "nan", "too-few", "degenerate"],
)
def test_a_face_without_a_pose_raises_pose_error_only(landmarks):
    with pytest.raises(PoseError):
        estimate_head_pose(landmarks=landmarks)
    with pytest.raises(PoseError):
        solve_head_pose(landmarks=landmarks)


def test_estimate_is_robust_to_noise_and_an_unknown_focal():
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(20):
        angles = rng.uniform([-40, -20, -30], [40, 20, 30])
        landmarks = _project(*angles, focal=900.0) + rng.normal(0, 1.0, (98, 2))
        pose = estimate_head_pose(landmarks=landmarks, landmark_set="all")  # the face-frame camera, not focal 900
        errors.append(np.abs(np.array([pose.yaw, pose.pitch, pose.roll]) - angles))
    assert np.median(np.concatenate(errors)) < 2.0


def test_frontal_rule():
    assert HeadPose(12.4, -12.4, 0).is_frontal()
    assert not HeadPose(12.5, 0, 0).is_frontal()
    assert not HeadPose(0, 0, -13).is_frontal()
    assert not HeadPose(0, float("nan"), 0).is_frontal()  # an unknown pose is never frontal
