"""Landmarks and head pose of FFHQ-aligned pictures (GAN samples, projections, relit faces), by the twin
landmark model.

An aligned picture comes without a face box, but alignment puts every face in nearly the same place: the first
pass crops the box the twin's aligned faces have on average, the second the box of the first pass's landmarks
(grown by 5 % a side, as the model's training boxes are), which is where the model was trained to look.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from landmark_core.face_crops import crop_faces, landmark_box, predict_crops
from landmark_core.headpose import PoseError, estimate_head_pose
from landmark_core.predict import to_photo
from landmark_core.train_config import TrainConfig

ALIGNED_BOX = (0.19, 0.35, 0.78, 0.97)  # the mean landmark box of aligned twin faces, in fractions of the side


def aligned_landmarks(
    *, model: torch.nn.Module, config: TrainConfig, images_rgb: np.ndarray, device: torch.device
) -> np.ndarray:
    """The landmarks the model finds on each aligned picture.

    Args:
        model: a landmark network (the twin landmark model).
        config: its training config (crop, decoding).
        images_rgb: the pictures.
        device: where the model runs.

    Shapes:
        images_rgb ``[N, R, R, 3]`` uint8 RGB -> ``[N, 98, 2]`` pixel xy (WFLW order).
    """
    found = []
    for image in images_rgb:
        bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
        box = np.array(ALIGNED_BOX) * image.shape[0]
        for _ in range(2):
            points = _landmarks(model, config, bgr, box, device)
            box = np.array(landmark_box(points))
        found.append(points)
    return np.stack(found) if found else np.zeros((0, 98, 2))


def _landmarks(model, config: TrainConfig, bgr: np.ndarray, box: np.ndarray, device: torch.device) -> np.ndarray:
    crops, matrices = crop_faces(image=bgr, boxes=box[None], augment=config.augment)
    _, points = predict_crops(model=model, crops=crops, decoding=config.decoding, device=device)
    return to_photo(points=points, matrices=matrices)[0]


def head_poses(*, landmarks: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Yaw and pitch (degrees) of each face from its landmarks; NaN with a reason where no pose can be had.

    Shapes:
        landmarks ``[N, 98, 2]`` -> (``[N, 2]``, N reasons, "" where the pose was found).
    """
    poses, reasons = np.full((len(landmarks), 2), np.nan), []
    for i, points in enumerate(landmarks):
        try:
            pose = estimate_head_pose(landmarks=points)
        except PoseError as error:
            reasons.append(f"no head pose: {error}")
            continue
        poses[i] = (pose.yaw, pose.pitch)
        reasons.append("")
    return poses, reasons
