"""The StyleGAN2 generator's shape (no torch needed to read it): resolution, widths, mapping depth."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of a StyleGAN2 generator.

    Attributes:
        resolution: output side in pixels (power of two, >= 8); 1024 for FFHQ.
        style_dim: Z and W width (512 for FFHQ).
        n_mlp: mapping-network depth (8).
        channel_base: channels at resolution r are ``min(channel_max, channel_base // r)`` (32768 = config-f).
        channel_max: channel cap (512).
        lr_mlp: learning-rate multiplier of the mapping layers (0.01); part of the weight parametrisation.
        conv_clamp: clamp of the activations after each layer (the NVIDIA ADA networks use 256); None = off.
    """

    resolution: int = 1024
    style_dim: int = 512
    n_mlp: int = 8
    channel_base: int = 32768
    channel_max: int = 512
    lr_mlp: float = 0.01
    conv_clamp: float | None = None

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")

    @property
    def log_size(self) -> int:
        return int(math.log2(self.resolution))

    @property
    def n_latent(self) -> int:
        """Rows of a W+ code: 18 at 1024."""
        return 2 * self.log_size - 2

    @property
    def n_noise(self) -> int:
        """Noise inputs: one per synthesis convolution (17 at 1024)."""
        return 2 * (self.log_size - 2) + 1

    def channels(self, res: int) -> int:
        return min(self.channel_max, self.channel_base // res)

    def noise_shapes(self) -> list[tuple[int, int]]:
        """Side of each noise map in order: 4, 8, 8, 16, 16, ..., resolution, resolution."""
        return [(2 ** ((i + 5) // 2),) * 2 for i in range(self.n_noise)]


TINY = GeneratorConfig(resolution=32, style_dim=32, n_mlp=2, channel_base=256, channel_max=16)
"""A random-initialisable generator small enough for tests and the demo (32x32, 16 channels)."""
