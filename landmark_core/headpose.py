"""Head pose (yaw, pitch, roll) from 98 WFLW landmarks against a mean 3D face.

The study's estimator: POSIT (``landmark_core.posit``) in the face's own frame. The principal point is put on
the face (its nose tip) and the focal length is tied to the face's size, not to the photo's: a web photo's
camera is unknown, and a face's pose is read from the relative positions of its landmarks. So the estimate of a
face does not change with where it sits in the photo, with the photo's height, or with the face's size; it is
the pose relative to the line of sight. The landmark set is a setting: all 98, or the rigid inner points (brows,
nose, eye corners), leaving out the jaw contour and the mouth, which move with expression.

``solve_head_pose`` (SQPnP, then Levenberg-Marquardt) fits the mean 3D face into the image itself, camera and
all, minimising the reprojection error: the relighting backend renders that fit. It uses the same face-frame
camera, so a small face in a tall photo is as well conditioned as a large one.

Conventions (written once, used by the estimator and by the synthetic renderer):

* Model coordinates are those of ``data/mean_face_3d_wflw98.csv``: x to the image's right, y up, z toward
  the viewer, nose tip at the origin. The model used is that table made mirror-symmetric (``mean_face_3d``),
  so a face and its mirror image get the same pitch and opposite yaw and roll.
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
from typing import Literal

import cv2
import numpy as np

from landmark_core.posit import PoseError, posit
from landmark_core.wflw import FLIP_PERMUTATION, NUM_LANDMARKS

MODEL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])
MIRROR_X = np.diag([-1.0, 1.0, 1.0])  # a left-right mirror of model coordinates
FRONTAL_LIMIT_DEG = 12.5
NOSE_TIP = 54  # the model's origin; the face frame's principal point
RIGID_LANDMARKS: tuple[int, ...] = (*range(33, 51), *range(51, 60), 60, 64, 68, 72)  # brows, nose, eye corners
LANDMARK_SETS: dict[str, tuple[int, ...]] = {"all": tuple(range(NUM_LANDMARKS)), "rigid": RIGID_LANDMARKS}
FOCAL_FACE_RATIO = 4.0  # focal length in landmark-box diagonals: a face about five face widths from the camera
LandmarkSet = Literal["all", "rigid"]


@dataclass(frozen=True)
class HeadPose:
    """Yaw, pitch and roll in degrees (conventions in the module docstring)."""

    yaw: float
    pitch: float
    roll: float

    def is_frontal(self, limit_deg: float = FRONTAL_LIMIT_DEG) -> bool:
        """True when |yaw|, |pitch| and |roll| are all below ``limit_deg`` (the study's frontal subset); an unknown
        (NaN) angle is never frontal."""
        return all(abs(angle) < limit_deg for angle in (self.yaw, self.pitch, self.roll))


@lru_cache(maxsize=1)
def published_mean_face_3d() -> np.ndarray:
    """The mean 3D face exactly as shipped (SPIGA's table; not mirror-symmetric, see ``mean_face_3d``).

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


def mirror_symmetric(*, model: np.ndarray) -> np.ndarray:
    """The mean of a 3D face and its left-right mirror: a model whose mirror image is itself.

    A pose estimator fitted to an asymmetric model reads that asymmetry into every face (a face and its mirror
    image get different |yaw| and |roll|). Mirroring negates x and swaps each left landmark with its right
    partner (``FLIP_PERMUTATION``); the mean of the two keeps the centre line at x = 0 and the nose tip at the
    origin.

    Args:
        model: (98, 3) model coordinates in WFLW index order.

    Returns:
        (98, 3) float64: ``out[FLIP_PERMUTATION] * (-1, 1, 1) == out``.
    """
    points = np.asarray(model, dtype=np.float64)
    mirrored = (points @ MIRROR_X)[list(FLIP_PERMUTATION)]
    return (points + mirrored) / 2.0


@lru_cache(maxsize=1)
def mean_face_3d() -> np.ndarray:
    """The mean 3D face the project uses: the shipped table made mirror-symmetric (``mirror_symmetric``).

    Returns:
        (98, 3) float64 model coordinates in WFLW index order (read-only array).
    """
    points = mirror_symmetric(model=published_mean_face_3d())
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
    """Pinhole intrinsics with the principal point at the image centre (the synthetic twin's camera).

    Args:
        width, height: image size in pixels.
        focal: focal length in pixels; default ``max(width, height)``.

    Returns:
        (3, 3) float64 intrinsic matrix K.
    """
    f = float(max(width, height) if focal is None else focal)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def face_camera(*, landmarks: np.ndarray, focal_face_ratio: float = FOCAL_FACE_RATIO) -> np.ndarray:
    """The face-frame camera of a face: principal point on its nose tip, focal length tied to its size.

    Args:
        landmarks: (98, 2) pixel xy, WFLW order.
        focal_face_ratio: focal length in diagonals of the landmarks' bounding box.

    Returns:
        (3, 3) float64 intrinsic matrix K.

    Raises:
        PoseError: non-finite landmarks or a collapsed face (zero size).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (NUM_LANDMARKS, 2) or not np.all(np.isfinite(points)):
        raise PoseError(f"head pose needs {NUM_LANDMARKS} finite (x, y) landmarks")
    size = float(np.hypot(*np.ptp(points, axis=0)))
    if size <= 1e-6:
        raise PoseError("head pose needs a face of non-zero size (the landmarks are collapsed)")
    f = focal_face_ratio * size
    cx, cy = points[NOSE_TIP]
    return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


def line_of_sight_rotation(translation: np.ndarray) -> np.ndarray:
    """The model-frame rotation that turns a face posed relative to the optical axis to the same pose relative to
    the line of sight ``translation`` (camera frame): ``R_camera = line_of_sight_rotation(t) @ R_pose``.

    Returns:
        (3, 3) rotation; the identity for a face on the optical axis.
    """
    d = np.asarray(translation, dtype=np.float64) / np.linalg.norm(translation)
    axis = np.cross([0.0, 0.0, 1.0], d)
    sin, cos = np.linalg.norm(axis), d[2]
    if sin < 1e-12:
        return np.eye(3)
    axis /= sin
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    turn = np.eye(3) + sin * skew + (1 - cos) * skew @ skew  # camera frame: optical axis -> line of sight
    return MODEL_TO_CAMERA @ turn @ MODEL_TO_CAMERA


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
    *, landmarks: np.ndarray, model: np.ndarray | None = None, focal_face_ratio: float = FOCAL_FACE_RATIO
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit the mean 3D face into the image through its face-frame camera (SQPnP, then Levenberg-Marquardt).

    Args:
        landmarks: (98, 2) pixel xy, WFLW order.
        model: (98, 3) model points; default the shipped mean 3D face.
        focal_face_ratio: the face-frame camera's focal length in face sizes (``face_camera``).

    Returns:
        (rotation (3, 3) in the model frame, camera-frame translation (3,), intrinsics K (3, 3)); a model point
        ``p`` projects through ``project_points(points=p, rotation=..., translation=..., K=K)``.

    Raises:
        PoseError: degenerate landmarks, or the solver found no pose or failed (the reason is kept).
    """
    model = mean_face_3d() if model is None else model
    K = face_camera(landmarks=landmarks, focal_face_ratio=focal_face_ratio)
    image_points = np.ascontiguousarray(landmarks, dtype=np.float64).reshape(-1, 1, 2)
    object_points = np.ascontiguousarray(model, dtype=np.float64).reshape(-1, 1, 3)
    try:
        ok, rvec, tvec = cv2.solvePnP(object_points, image_points, K, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            raise PoseError("solvePnP found no pose for these landmarks")
        rvec, tvec = cv2.solvePnPRefineLM(object_points, image_points, K, None, rvec, tvec)
    except cv2.error as error:
        raise PoseError(f"solvePnP failed: {str(error).strip().splitlines()[-1]}") from None
    rotation_cv, _ = cv2.Rodrigues(rvec)
    return MODEL_TO_CAMERA @ rotation_cv, tvec.reshape(3), K


def estimate_head_pose(
    *,
    landmarks: np.ndarray,
    landmark_set: LandmarkSet = "rigid",
    focal_face_ratio: float = FOCAL_FACE_RATIO,
    model: np.ndarray | None = None,
) -> HeadPose:
    """Yaw/pitch/roll of a face from its landmarks: POSIT in the face's own frame (see the module docstring).

    Args:
        landmarks: (98, 2) pixel xy, WFLW order (points outside the photo are used as they are).
        landmark_set: ``rigid`` (brows, nose, eye corners) or ``all`` 98 points.
        focal_face_ratio: the face-frame camera's focal length in face sizes.
        model: (98, 3) model points; default the shipped mean 3D face.

    Returns:
        The head pose in degrees, relative to the line of sight.

    Raises:
        PoseError: degenerate landmarks or no pose (the reason says which).
    """
    model = mean_face_3d() if model is None else np.asarray(model, dtype=np.float64)
    K = face_camera(landmarks=landmarks, focal_face_ratio=focal_face_ratio)
    used = list(LANDMARK_SETS[landmark_set])
    image = np.asarray(landmarks, dtype=np.float64)[used] - K[:2, 2]
    rotation_cv, _ = posit(model=model[used], image=image, focal=K[0, 0], reference=used.index(NOSE_TIP))
    return pose_from_rotation(MODEL_TO_CAMERA @ rotation_cv)
