"""The twin lighting flow: StyleFlow's conditional flow trained, the StyleFlow way, on the twin GAN's own samples.

StyleFlow trained its flow on W codes sampled from the generator, each paired with the condition measured on
its picture. Here the same: W codes of seeded latents, each picture's lighting, its yaw and pitch from the
landmarks the twin landmark model finds on it, and StyleFlow's mean for each other attribute (the twin has no
glasses, beards or ages to measure). A sample whose pose or lighting cannot be had is left out with its reason.
The pairs (seed, condition) are kept as a CSV, so the flow's training can be computed again from the generator,
the seed and that file alone.

The lighting is measured one of two ways (``TwinFlowConfig.lighting``):

* ``fit`` (the default): SH lighting fitted to the picture's luminance against the mean 3D face's normals,
  placed by the landmarks found on it (``relight_physical.estimate_source_sh``): the estimator the demo's
  ``attributes`` stage runs, so the flow is conditioned the way the demo measures its faces. On 64 px twin
  faces it follows the light: its first-band coefficients correlate 0.53 / 0.75 / 0.90 with the light the
  face was rendered under.
* ``dpr``: DPR (the published weights), the study's estimator. On 64 px twin faces DPR barely sees the light
  (correlations 0.50 / -0.22 / 0.53), and a flow conditioned on it moved faces away from their relit truth.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
import torch
from pydantic import Field

from gan_core.attributes import condition_vector, stats_attributes
from gan_core.dpr import HourglassNet, estimate_sh
from gan_core.relight_physical import RelightError, estimate_source_sh, face_geometry
from gan_core.styleflow import SequentialFlow
from gan_core.styleflow_config import FlowConfig
from gan_core.styleflow_train import FlowTrainConfig, train_flow
from gan_core.stylegan2 import Generator
from gan_core.twin_measure import aligned_landmarks, head_poses
from landmark_core.train_config import TrainConfig


@dataclass(frozen=True)
class TwinFlowConfig:
    """The twin flow's samples, shape and training.

    Attributes:
        samples: W codes drawn (before any is left out).
        seed: the latents' seed.
        lighting: how each picture's SH lighting is measured: ``fit`` (against the mean 3D face) or ``dpr``.
        flow: the flow's shape (``dim`` must be the generator's style size).
        train: the maximum-likelihood training.
    """

    samples: Annotated[int, Field(ge=2)] = 2000
    seed: Annotated[int, Field(ge=0)] = 0
    lighting: Literal["fit", "dpr"] = "fit"
    flow: FlowConfig = field(default_factory=lambda: FlowConfig(dim=128, hidden=(256, 256), atol=1e-4, rtol=1e-4))
    train: FlowTrainConfig = field(default_factory=lambda: FlowTrainConfig(steps=1500, batch=64, lr=1e-3))


@dataclass(frozen=True)
class FlowPairs:
    """W codes and the conditions measured on their pictures.

    Attributes:
        indices: each kept sample's index among the seeded latents.
        codes: ``[N, n_latent, D]`` W+ codes (one W repeated over the rows).
        conditions: ``[N, 17]`` SH lighting (9), then StyleFlow's 8 attributes.
        left_out: (sample index, reason) of each sample without a condition.
    """

    indices: np.ndarray
    codes: torch.Tensor
    conditions: torch.Tensor
    left_out: tuple[tuple[int, str], ...] = ()


@torch.no_grad()
def sample_codes(*, generator: Generator, count: int, seed: int) -> torch.Tensor:
    """W+ codes of ``count`` seeded latents. Shapes: -> ``[count, n_latent, style_dim]``."""
    cfg = generator.config
    z = torch.randn(count, cfg.style_dim, generator=torch.Generator().manual_seed(seed))
    return generator.mapping(z)[:, None].expand(-1, cfg.n_latent, -1).contiguous()


@torch.no_grad()
def flow_pairs(
    *,
    generator: Generator,
    landmark_model: torch.nn.Module,
    landmark_config: TrainConfig,
    dpr: HourglassNet | None,
    count: int,
    seed: int,
    batch: int = 64,
) -> FlowPairs:
    """Sample codes, render them, and measure each picture's condition.

    Args:
        generator: the twin GAN's generator.
        landmark_model: the twin landmark model; landmark_config: its training config.
        dpr: DPR's network (published weights) to measure the lighting with; None: the fit against the mean
            3D face.
        count: how many codes; seed: the latents' seed.
        batch: pictures rendered at once.
    """
    codes = sample_codes(generator=generator, count=count, seed=seed)
    kept, conditions, left_out = [], [], []
    for start in range(0, count, batch):
        images = render_codes(generator=generator, codes=codes[start : start + batch])  # [B, R, R, 3] uint8 RGB
        points = aligned_landmarks(
            model=landmark_model, config=landmark_config, images_rgb=images, device=torch.device("cpu")
        )
        poses, reasons = head_poses(landmarks=points)
        lighting, unlit = measure_lighting(images_rgb=images, landmarks=points, dpr=dpr)
        for k, (pose, reason, sh) in enumerate(zip(poses, reasons, lighting, strict=True)):
            reason = reason or unlit[k]
            if reason:
                left_out.append((start + k, reason))
                continue
            kept.append(start + k)
            conditions.append(condition_vector(sh=sh, attributes=stats_attributes(yaw=pose[0], pitch=pose[1])))
    return FlowPairs(
        indices=np.array(kept, dtype=np.int64),
        codes=codes[kept],
        conditions=torch.as_tensor(np.array(conditions).reshape(-1, 17), dtype=torch.float32),
        left_out=tuple(left_out),
    )


def measure_lighting(
    *, images_rgb: np.ndarray, landmarks: np.ndarray, dpr: HourglassNet | None
) -> tuple[np.ndarray, list[str]]:
    """Each picture's SH lighting, by DPR or by the fit against the mean 3D face at its landmarks.

    Shapes:
        images_rgb ``[N, R, R, 3]`` uint8, landmarks ``[N, 98, 2]`` pixel xy -> ``[N, 9]`` (a row of zeros where
        the fit failed) and one reason per picture ("" when measured).
    """
    bgr = [cv2.cvtColor(image, cv2.COLOR_RGB2BGR) for image in images_rgb]
    if dpr is not None:
        return estimate_sh(model=dpr, images_bgr=bgr), [""] * len(bgr)
    lighting, reasons = np.zeros((len(bgr), 9)), []
    for k, (image, points) in enumerate(zip(bgr, landmarks, strict=True)):
        try:
            lighting[k] = estimate_source_sh(
                image_bgr=image, geometry=face_geometry(landmarks=points, image_shape=image.shape)
            )
            reasons.append("")
        except (RelightError, ValueError) as error:
            reasons.append(f"no lighting: {error}")
    return lighting, reasons


def render_codes(*, generator: Generator, codes: torch.Tensor) -> np.ndarray:
    """Render W+ codes with the stored noise. Shapes: ``[B, n_latent, D]`` -> ``[B, R, R, 3]`` uint8 RGB."""
    images = generator.synthesis(codes).clamp(-1, 1)
    return ((images + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def write_pairs(*, pairs: FlowPairs, path: Path) -> None:
    """The pairs as a CSV: ``sample`` (the latent's index), then the 17 condition entries."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sample", *(f"c{i}" for i in range(17))])
        for index, condition in zip(pairs.indices, pairs.conditions.tolist(), strict=True):
            writer.writerow([int(index), *(repr(float(v)) for v in condition)])


def read_pairs(*, generator: Generator, path: Path, count: int, seed: int) -> FlowPairs:
    """The pairs of a CSV written by ``write_pairs``, their codes sampled again from the generator and seed."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    indices = np.array([int(row[0]) for row in rows], dtype=np.int64)
    codes = sample_codes(generator=generator, count=count, seed=seed)[indices]
    conditions = torch.tensor([[float(v) for v in row[1:]] for row in rows], dtype=torch.float32)
    return FlowPairs(indices=indices, codes=codes, conditions=conditions)


def train_twin_flow(
    *, pairs: FlowPairs, config: TwinFlowConfig, steps: int | None = None
) -> tuple[SequentialFlow, list[float]]:
    """A fresh flow of ``config.flow`` (initialised from ``config.train.seed``) fitted to the pairs.

    Args:
        pairs: the codes and their conditions.
        config: the flow's shape and training.
        steps: train only this many steps (a check of the first steps); None: ``config.train.steps``.

    Returns:
        (the trained flow, in eval mode; the loss of every step).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        flow = SequentialFlow(config.flow)
    train = config.train if steps is None else dataclasses.replace(config.train, steps=steps)
    # Sampled codes repeat one W over the rows, and the flow treats each row alike: one row is the same data
    codes = pairs.codes[:, :1]
    losses = train_flow(flow=flow, codes=codes, conditions=pairs.conditions, config=train)
    return flow, losses
