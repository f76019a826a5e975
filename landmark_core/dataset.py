"""A PyTorch dataset of augmented views of WFLW faces, deterministic per (seed, epoch, index).

Each item is one face seen through the sampler: ``V`` views (2 for the ELT pair) rendered to crops, with
their landmarks, visibility, and the full 3x3 transform from the original image, so any two views (or a
view and the original image) can be related exactly. The random stream of item i in epoch e is
``default_rng([seed, e, i])``: the same batch comes out whatever the number of loader workers, and a run
resumed from a checkpoint sees the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from landmark_core.augment import FaceContext, Step, render_views, sample_views
from landmark_core.wflw_index import landmarks_array


@dataclass(frozen=True)
class FaceRecord:
    """One face: image file, box (x_min, y_min, x_max, y_max) and (98, 2) landmarks, original pixels.

    ``labelled``: False for a face whose landmarks training must not see (semi-supervised rows): it reaches the
    ELT term only, and its landmarks serve no loss.
    """

    face_id: str
    image_path: Path
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    labelled: bool = True


def face_records(*, root: Path, faces: pd.DataFrame) -> list[FaceRecord]:
    """Turn index rows (``landmark_core.wflw_index``) into records with absolute image paths."""
    points = landmarks_array(faces)
    boxes = faces[["bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"]].to_numpy(dtype=float)
    return [
        FaceRecord(face_id=str(fid), image_path=Path(root) / str(path), box=tuple(box), landmarks=pts)
        for fid, path, box, pts in zip(faces["face_id"], faces["image_path"], boxes, points, strict=True)
    ]


def read_image(path: Path) -> np.ndarray:
    """Read a colour image as (H, W, 3) uint8 BGR; a clear error names the file when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: cannot read image (missing or not an image)")
    return image


class ViewDataset(Dataset):
    """Faces rendered through a sampler.

    Items (tensors):
        image (V, 3, S, S) uint8 BGR; landmarks (V, 98, 2) float32 crop pixels; visible (V, 98) bool
        (not occluded and inside the crop); matrix (V, 3, 3) float64 original -> crop; perm (V, 98) int64;
        index () int64; labelled () bool (the record's).
    """

    def __init__(
        self,
        *,
        records: list[FaceRecord],
        steps: tuple[Step, ...],
        size: int,
        seed: int,
        antialias: bool = False,
        copies: tuple[int, ...] | None = None,
    ) -> None:
        if not records:
            raise ValueError("no faces to load")
        self.records, self.steps, self.size, self.seed, self.antialias = records, steps, size, seed, antialias
        self.copies = copies
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of this epoch (call before building the loader's iterator)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rec = self.records[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image = read_image(rec.image_path)
        ctx = FaceContext.from_box(rec.box)
        views = sample_views(steps=self.steps, ctx=ctx, landmarks=rec.landmarks, rng=rng, copies=self.copies)
        crops, points = zip(
            *render_views(image=image, landmarks=rec.landmarks, views=views, size=self.size, antialias=self.antialias),
            strict=True,
        )
        points = np.stack(points)
        inside = ((points >= 0) & (points < self.size)).all(axis=-1)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2))),
            "landmarks": torch.from_numpy(points.astype(np.float32)),
            "visible": torch.from_numpy(np.stack([v.visible for v in views]) & inside),
            "matrix": torch.from_numpy(np.stack([v.matrix for v in views])),
            "perm": torch.from_numpy(np.stack([v.perm for v in views]).astype(np.int64)),
            "index": torch.tensor(index, dtype=torch.int64),
            "labelled": torch.tensor(rec.labelled, dtype=torch.bool),
        }
