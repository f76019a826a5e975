"""Faces of any photo (or video frame) in memory, cropped and predicted exactly as the evaluation does.

The evaluation (``landmark_core.predict``) reads WFLW photos from disk; these functions take a decoded image
and face boxes instead, so a trained model runs on one's own photos and video frames with the same crop (the
sampler's evaluation step), the same network input and the same decoding, and the landmarks come back in the
photo's pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from landmark_core.augment import FaceContext, render_views, sample_views
from landmark_core.heatmap import DECODERS
from landmark_core.predict import to_input
from landmark_core.sampler import AugmentConfig, eval_steps

POINTS = 98
BOX_PAD = 0.05  # a face box is its landmarks' box widened by this share of its size on each side (as WFLW's)


def landmark_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """The box of ``points`` (K, 2), widened by ``BOX_PAD`` of its size on each side: (x_min, y_min, x_max, y_max)."""
    lo, hi = points.min(0), points.max(0)
    pad = BOX_PAD * (hi - lo)
    return (*(lo - pad), *(hi + pad))


def crop_faces(*, image: np.ndarray, boxes: np.ndarray, augment: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation crop of every box.

    Args:
        image: (H, W, 3) uint8 BGR photo.
        boxes: (N, 4) face boxes x_min, y_min, x_max, y_max in photo pixels.
        augment: the run's augment config (crop size, factor, antialiasing).

    Returns:
        crops (N, 3, S, S) uint8 BGR and matrices (N, 3, 3) float64 photo -> crop.
    """
    crops, matrices = [], []
    blank = np.zeros((POINTS, 2))
    for box in np.asarray(boxes, dtype=float).reshape(-1, 4):
        views = sample_views(
            steps=eval_steps(augment),
            ctx=FaceContext.from_box(tuple(box)),
            landmarks=blank,
            rng=np.random.default_rng(0),
        )
        ((crop, _),) = render_views(
            image=image, landmarks=blank, views=views, size=augment.size, antialias=augment.antialias
        )
        crops.append(crop.transpose(2, 0, 1))
        matrices.append(views[0].matrix)
    size = augment.size
    if not crops:
        return np.zeros((0, 3, size, size), np.uint8), np.zeros((0, 3, 3))
    return np.stack(crops), np.stack(matrices)


@torch.no_grad()
def predict_crops(
    *, model: torch.nn.Module, crops: np.ndarray, decoding: str, device: torch.device, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """The network's last-stage heatmaps and decoded landmarks for a batch of crops.

    Shapes: crops (N, 3, S, S) uint8 BGR -> heatmaps (N, 98, H, W) float32, points (N, 98, 2) float64 crop
    pixels.
    """
    model.eval()
    heatmaps, points = [], []
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(crops[start : start + batch_size]))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            last = model(to_input(batch, device))[-1].float()
        heatmaps.append(last.cpu().numpy())
        points.append(DECODERS[decoding](last).cpu().double().numpy())
    if not points:
        return np.zeros((0, POINTS, 0, 0), np.float32), np.zeros((0, POINTS, 2))
    return np.concatenate(heatmaps), np.concatenate(points)
