"""Head pose (yaw, pitch, roll) from 98 WFLW landmarks against a mean 3D face.

The study used POSIT; OpenCV's Python API no longer exposes POSIT, so the pose is solved with
``cv2.solvePnP`` (SQPnP for a global initial solution, then Levenberg-Marquardt refinement), which solves
the same perspective-n-point problem.

Conventions (written once, used by the estimator and by the synthetic renderer):

* Model coordinates are those of ``data/mean_face_3d_wflw98.csv``: x to the image's right, y up, z toward
  the viewer, nose tip at the origin.
* A head pose is the rotation ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` applied to model points, each a
  right-handed rotation about a model axis, in degrees. Positive yaw turns the face toward the image's
  right, positive pitch tilts it down, positive roll turns it counter-clockwise as seen in the image.
* Camera coordinates are OpenCV's (x right, y down, z forward); a rotated model point ``p`` sits at
  ``C @ p + t`` with ``C = diag(1, -1, -1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from landmark_core.wflw import NUM_LANDMARKS

MODEL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])
FRONTAL_LIMIT_DEG = 12.5


@dataclass(frozen=True)
class HeadPose:
    """Yaw, pitch and roll in degrees (conventions in the module docstring)."""

    yaw: float
    pitch: float
    roll: float

    def is_frontal(self, limit_deg: float = FRONTAL_LIMIT_DEG) -> bool:
        """True when |yaw|, |pitch| and |roll| are all below ``limit_deg`` (the study's frontal subset)."""
        return max(abs(self.yaw), abs(self.pitch), abs(self.roll)) < limit_deg


@lru_cache(maxsize=1)
def mean_face_3d() -> np.ndarray:
    """The mean 3D face shipped as package data.

    Returns:
        (98, 3) float64 model coordinates in WFLW index order (read-only array).
    """
    text = resources.files("landmark_core").joinpath("data/mean_face_3d_wflw98.csv").read_text()
    rows = np.loadtxt(text.splitlines()[1:], delimiter=",")
    if rows.shape != (NUM_LANDMARKS, 4) or not np.array_equal(rows[:, 0], np.arange(NUM_LANDMARKS)):
        raise ValueError("mean_face_3d_wflw98.csv must hold rows 0..97 with columns wflw_index,x,y,z")
    points = rows[:, 1:].copy()
    points.setflags(write=False)
    return points


def rotation_from_pose(*, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix ``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` from angles in degrees.

    Returns:
        (3, 3) float64 rotation acting on model coordinates.
    """
    a, b, c = np.deg2rad([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_from_rotation(rotation: np.ndarray) -> HeadPose:
    """Inverse of :func:`rotation_from_pose` (yaw in [-90, 90] degrees)."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[2, 1], r[2, 2])
    roll = np.arctan2(r[1, 0], r[0, 0])
    return HeadPose(*(float(np.rad2deg(v)) for v in (yaw, pitch, roll)))


def camera_matrix(*, width: int, height: int, focal: float | None = None) -> np.ndarray:
    """Pinhole intrinsics with the principal point at the image centre.

    Args:
        width, height: image size in pixels.
        focal: focal length in pixels; default ``max(width, height)`` (a ~53 degree field of view, the usual
            guess when the camera is unknown, as for WFLW's web photos).

    Returns:
        (3, 3) float64 intrinsic matrix K.
    """
    f = float(max(width, height) if focal is None else focal)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def project_points(*, points: np.ndarray, rotation: np.ndarray, translation: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Project model points through a head pose and a pinhole camera.

    Args:
        points: (N, 3) model coordinates.
        rotation: (3, 3) head rotation (model frame).
        translation: (3,) camera-frame position of the model origin.
        K: (3, 3) intrinsics.

    Returns:
        (N, 2) pixel xy.
    """
    cam = (MODEL_TO_CAMERA @ rotation @ points.T).T + translation
    uvw = (K @ cam.T).T
    return uvw[:, :2] / uvw[:, 2:3]


def solve_head_pose(
    *, landmarks: np.ndarray, width: int, height: int, model: np.ndarray | None = None, focal: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the mean 3D face to 98 landmarks (SQPnP, then Levenberg-Marquardt).

    Args:
        landmarks: (98, 2) pixel xy, WFLW order.
        width, height: image size in pixels (sets the assumed camera).
        model: (98, 3) model points; default the shipped mean 3D face.
        focal: focal length in pixels; default ``max(width, height)``.

    Returns:
        (rotation (3, 3) in the model frame, camera-frame translation (3,), intrinsics K (3, 3)); a model point
        ``p`` projects through ``project_points(points=p, rotation=..., translation=..., K=K)``.

    Raises:
        ValueError: solvePnP found no pose.
    """
    model = mean_face_3d() if model is None else model
    image_points = np.ascontiguousarray(landmarks, dtype=np.float64).reshape(-1, 1, 2)
    object_points = np.ascontiguousarray(model, dtype=np.float64).reshape(-1, 1, 3)
    K = camera_matrix(width=width, height=height, focal=focal)
    ok, rvec, tvec = cv2.solvePnP(object_points, image_points, K, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise ValueError("solvePnP found no pose for these landmarks")
    rvec, tvec = cv2.solvePnPRefineLM(object_points, image_points, K, None, rvec, tvec)
    rotation_cv, _ = cv2.Rodrigues(rvec)
    return MODEL_TO_CAMERA @ rotation_cv, tvec.reshape(3), K


def estimate_head_pose(
    *, landmarks: np.ndarray, width: int, height: int, model: np.ndarray | None = None, focal: float | None = None
) -> HeadPose:
    """Estimate yaw/pitch/roll of a face from its 98 landmarks (see :func:`solve_head_pose`).

    Returns:
        The head pose in degrees.
    """
    rotation, _, _ = solve_head_pose(landmarks=landmarks, width=width, height=height, model=model, focal=focal)
    return pose_from_rotation(rotation)
