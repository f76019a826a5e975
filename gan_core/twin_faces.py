"""FFHQ-aligned twin faces: the twin GAN's training images, and held-out faces with their true landmarks.

Each portrait (``landmark_core.synth.portrait``) is aligned with the project's FFHQ alignment, from its true
landmarks mapped to iBUG-68 (rather than from a detector: the twin knows where its landmarks are), and its 98
landmarks are carried into the aligned image through the alignment's homography. The same seed under another
light gives the same alignment and landmarks, so a relit face has its ground truth pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gan_core.align import AlignConfig, AlignRecord, plan_alignment, render_aligned
from gan_core.homography import apply_homography
from landmark_core.ibug68 import ibug68_from_wflw98
from landmark_core.synth.portrait import render_portrait, sample_portrait
from landmark_core.synth.render import Lighting


@dataclass(frozen=True)
class TwinFaces:
    """Aligned twin faces.

    Attributes:
        seeds: the portraits' seeds, one per face.
        images: ``[N, R, R, 3]`` uint8 RGB, FFHQ-aligned.
        landmarks: ``[N, 98, 2]`` float, the true landmarks in aligned-image pixel xy (WFLW order).
        records: each face's alignment (to go back to its photo).
    """

    seeds: tuple[int, ...]
    images: np.ndarray
    landmarks: np.ndarray
    records: tuple[AlignRecord, ...]


def aligned_twin_faces(
    *, seeds: Sequence[int], resolution: int, lighting: Lighting | None = None, photo_side: int = 256
) -> TwinFaces:
    """Render, align and annotate the portraits of ``seeds`` at ``resolution`` pixels.

    Args:
        seeds: one portrait per seed (``sample_portrait``).
        resolution: side of the aligned images.
        lighting: draw every face under this light instead of its own (the relighting ground truth).
        photo_side: side of the portraits before alignment (at least twice ``resolution`` keeps detail).

    Returns:
        The faces in the order of ``seeds``.
    """
    config = AlignConfig(output_size=resolution, transform_size=4 * resolution)
    images, landmarks, records = [], [], []
    for seed in seeds:
        portrait = sample_portrait(seed=seed, side=photo_side)
        photo, points = render_portrait(portrait=portrait, lighting=lighting)
        rgb = np.clip(np.rint(photo * 255.0), 0, 255).astype(np.uint8)
        record = plan_alignment(
            width=photo_side, height=photo_side, landmarks68=ibug68_from_wflw98(points), config=config
        )
        images.append(render_aligned(image=rgb, record=record, config=config))
        landmarks.append(apply_homography(matrix=np.linalg.inv(record.to_original()), points=points))
        records.append(record)
    empty = (0, resolution, resolution, 3)
    return TwinFaces(
        seeds=tuple(int(s) for s in seeds),
        images=np.stack(images) if images else np.zeros(empty, np.uint8),
        landmarks=np.stack(landmarks) if landmarks else np.zeros((0, 98, 2)),
        records=tuple(records),
    )


class TwinFaceBank:
    """The aligned faces of some seeds as a training's real images (``gan_train.RealImages``), each face rendered
    the first time a batch draws it.

    A batch holds exactly what indexing the stack of every face would give (a face depends on its seed alone), so
    a full training renders all faces first (``render_all``), while a check of a training's first steps renders
    only the few dozen faces those steps draw.
    """

    def __init__(self, *, seeds: Sequence[int], resolution: int, photo_side: int = 256) -> None:
        self.seeds, self.resolution, self.photo_side = tuple(int(s) for s in seeds), resolution, photo_side
        self._faces: dict[int, torch.Tensor] = {}  # position -> [3, R, R] uint8

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        """The faces at positions ``index``, in [-1, 1].

        Shapes:
            index ``[B]`` (integer) -> ``[B, 3, R, R]`` float32.
        """
        wanted = [int(i) for i in index.reshape(-1)]
        self._render(sorted({i for i in wanted if i not in self._faces}))
        if not wanted:
            return torch.zeros(0, 3, self.resolution, self.resolution)
        return torch.stack([self._faces[i] for i in wanted]).float() / 127.5 - 1.0

    def render_all(self) -> TwinFaceBank:
        """Render every face not rendered yet; returns the bank."""
        self._render([i for i in range(len(self)) if i not in self._faces])
        return self

    def _render(self, positions: list[int]) -> None:
        if not positions:
            return
        faces = aligned_twin_faces(
            seeds=[self.seeds[i] for i in positions], resolution=self.resolution, photo_side=self.photo_side
        )
        for position, image in zip(positions, faces.images, strict=True):
            self._faces[position] = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
