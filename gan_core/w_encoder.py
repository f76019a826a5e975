"""An image-to-W+ encoder: the projector's start near each face's answer ("hybrid" inversion, as e4e/ReStyle).

A plain convolutional encoder halves the picture down to 4x4, then predicts one W (the base, as an offset from
the generator's mean W) and a per-row offset for every W+ row. Like e4e, the code is the base repeated over the
rows plus the offsets, and training keeps the offsets small (``delta_penalty``), so the code stays near the
W distribution the generator was trained on, where edits such as StyleFlow's behave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import torch
from pydantic import Field
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    """The encoder's shape.

    Attributes:
        resolution: the generator's picture side (a power of two, at least 8).
        n_latent: the generator's W+ rows.
        style_dim: the generator's W width.
        channels: channels of the first convolution (doubled at each halving, up to ``max_channels``).
        max_channels: the widest convolution.
        hidden: the width of the layer both heads read.
    """

    resolution: Annotated[int, Field(ge=8)] = 64
    n_latent: Annotated[int, Field(ge=1)] = 10
    style_dim: Annotated[int, Field(ge=1)] = 128
    channels: Annotated[int, Field(ge=1)] = 32
    max_channels: Annotated[int, Field(ge=1)] = 128
    hidden: Annotated[int, Field(ge=1)] = 512

    def __post_init__(self) -> None:
        if 2 ** int(math.log2(self.resolution)) != self.resolution:
            raise ValueError(f"resolution must be a power of two, got {self.resolution}")


def _block(cin: int, cout: int) -> nn.Sequential:
    """One halving: a stride-2 convolution and a 3x3 convolution, each with a leaky ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.LeakyReLU(0.2),
    )


class WEncoder(nn.Module):
    """Pictures to W+ codes around the generator's mean W.

    Shapes:
        images ``[N, 3, R, R]`` RGB in [-1, 1] -> ``[N, n_latent, style_dim]`` (and the offsets, same shape).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.channels]
        side, layers = config.resolution, []
        while side > 4:
            cout = min(widths[-1] * 2, config.max_channels)
            layers.append(_block(widths[-1], cout))
            widths.append(cout)
            side //= 2
        self.stem = nn.Sequential(nn.Conv2d(3, config.channels, 3, padding=1), nn.LeakyReLU(0.2))
        self.down = nn.Sequential(*layers)
        self.neck = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * 16, config.hidden), nn.LeakyReLU(0.2))
        self.base = nn.Linear(config.hidden, config.style_dim)
        self.offsets = nn.Linear(config.hidden, config.n_latent * config.style_dim)
        nn.init.zeros_(self.offsets.weight)  # training starts from one W per face: e4e's progressive start
        nn.init.zeros_(self.offsets.bias)
        self.register_buffer("w_avg", torch.zeros(config.style_dim))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The W+ codes of the pictures, and their per-row offsets from each face's base W."""
        cfg = self.config
        if images.shape[1:] != (3, cfg.resolution, cfg.resolution):
            raise ValueError(f"images must be [N, 3, {cfg.resolution}, {cfg.resolution}], got {tuple(images.shape)}")
        x = self.neck(self.down(self.stem(images)))
        base = self.w_avg + self.base(x)  # [N, D]
        offsets = self.offsets(x).view(-1, cfg.n_latent, cfg.style_dim)
        return base[:, None] + offsets, offsets


def encoder_for(*, config: EncoderConfig, w_avg: torch.Tensor, seed: int) -> WEncoder:
    """A fresh encoder of this shape, its weights drawn from ``seed`` (whatever drew random numbers before),
    centred on the generator's mean W ``[style_dim]``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = WEncoder(config)
    with torch.no_grad():
        encoder.w_avg.copy_(w_avg)
    return encoder
