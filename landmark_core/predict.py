"""Inference: crop every face, run the network, decode the heatmaps, map back to original-image pixels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from landmark_core.dataset import FaceRecord, ViewDataset
from landmark_core.heatmap import DECODERS
from landmark_core.sampler import AugmentConfig, eval_steps


def to_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 crops to the network's float input. Shapes: (..., 3, S, S) uint8 -> (N, 3, S, S) float [0, 1]."""
    x = images.flatten(0, images.dim() - 4).to(device, non_blocking=True).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def to_photo(*, points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Crop-pixel landmarks mapped back into the photo through each crop's matrix.

    Shapes: points (N, K, 2), matrices (N, 3, 3) photo -> crop -> (N, K, 2) photo pixels.
    """
    inverse = np.linalg.inv(matrices)
    return points @ inverse[:, :2, :2].transpose(0, 2, 1) + inverse[:, None, :2, 2]


@torch.no_grad()
def predict_landmarks(
    *,
    model: torch.nn.Module,
    records: list[FaceRecord],
    augment: AugmentConfig,
    device: torch.device,
    batch_size: int = 32,
    workers: int = 0,
    decoding: str = "top1",
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Landmarks of every face in original-image pixels, decoded from the last stage's heatmaps.

    ``decoding`` is ``top1`` (the study's) or ``quarter_offset`` (``landmark_core.heatmap``); ``on_progress`` is
    called with the fraction of faces done after each batch.

    Returns:
        (N, 98, 2) float64 pixel xy, in the order of ``records``.
    """
    model.eval()
    dataset = ViewDataset(
        records=records, steps=eval_steps(augment), size=augment.size, seed=0, antialias=augment.antialias
    )
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    out: list[np.ndarray] = []
    for batch in loader:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            stages = model(to_input(batch["image"], device))
        crop_points = DECODERS[decoding](stages[-1].float()).cpu().double().numpy()  # (B, K, 2)
        out.append(to_photo(points=crop_points, matrices=batch["matrix"][:, 0].numpy()))
        if on_progress is not None:
            on_progress(sum(len(o) for o in out) / len(records))
    return np.concatenate(out)
