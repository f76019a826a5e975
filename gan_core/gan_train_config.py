"""Settings of a StyleGAN2 training: the discriminator's shape, and the schedule, losses and seed (no torch needed).

The defaults are StyleGAN2's (Karras et al. 2020; config-f's training in stylegan2-ada's "paper" settings):
Adam with betas (0, 0.99), the non-saturating logistic loss, R1 on real images applied lazily every 16
discriminator steps, style mixing on 90 % of the generated batches, and an EMA of the generator's weights with a
half-life of 10,000 images (``ema_kimg`` 10). Mapping-network learning rate is the generator's times ``lr_mlp``
through the equalised-lr parametrisation, as in the published code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Shape of a StyleGAN2 residual discriminator (widths as the generator's at each resolution).

    Attributes:
        resolution: input side in pixels (power of two, >= 8).
        channel_base, channel_max: channels at resolution r are ``min(channel_max, channel_base // r)``.
        mbstd_group: images per minibatch-standard-deviation group (4 in StyleGAN2).
    """

    resolution: int = 1024
    channel_base: int = 32768
    channel_max: int = 512
    mbstd_group: Annotated[int, Field(ge=1)] = 4

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")

    def channels(self, res: int) -> int:
        return min(self.channel_max, self.channel_base // res)


@dataclass(frozen=True)
class GanTrainConfig:
    """How a StyleGAN2 pair is trained.

    Attributes:
        steps: optimiser steps of each network (one generator and one discriminator step per batch).
        batch: images per step (a multiple of the discriminator's ``mbstd_group``).
        lr: Adam learning rate of both networks (before the lazy-regularisation correction of the discriminator).
        beta1, beta2: Adam's betas (0 and 0.99 in StyleGAN2).
        r1_gamma: weight of the R1 penalty, ``gamma / 2 * |grad D(real)|^2``.
        r1_interval: the R1 penalty is applied every this many discriminator steps, scaled by the interval
            (lazy regularisation); Adam's rate and betas are corrected by ``interval / (interval + 1)``.
        mixing_prob: share of generated batches whose W+ switches to a second code at a random row.
        ema_kimg: half-life of the generator's weight average, in thousands of images.
        seed: seeds the initial weights, every latent drawn, the mixing points and the order of real images.
    """

    steps: Annotated[int, Field(ge=1)] = 10_000
    batch: Annotated[int, Field(ge=1)] = 32
    lr: Annotated[float, Field(gt=0.0)] = 0.002
    beta1: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    beta2: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.99
    r1_gamma: Annotated[float, Field(ge=0.0)] = 10.0
    r1_interval: Annotated[int, Field(ge=1)] = 16
    mixing_prob: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    ema_kimg: Annotated[float, Field(gt=0.0)] = 10.0
    seed: Annotated[int, Field(ge=0)] = 0

    def ema_beta(self) -> float:
        """Per-step decay of the weight average: ``0.5 ** (batch / (ema_kimg * 1000))``."""
        return 0.5 ** (self.batch / (self.ema_kimg * 1000.0))
