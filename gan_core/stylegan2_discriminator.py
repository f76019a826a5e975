"""StyleGAN2's residual discriminator (Karras et al. 2020, config-e/f), in plain PyTorch.

It mirrors the generator's widths: a 1x1 ``fromRGB`` at the full resolution, then one residual block per
resolution down to 4x4 (two 3x3 convolutions, the second downsampling 2x through the [1,3,3,1] blur and a strided
convolution, plus a 1x1 downsampling skip; the sum is scaled by 1/sqrt(2)), the minibatch standard-deviation
feature, a last 3x3 convolution and two equalised-lr linear layers to one logit per image. Every weight uses
the equalised learning rate, as in the published networks. Names follow the widely used PyTorch port
(``convs.N``, ``final_conv``, ``final_linear``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_core.gan_train_config import DiscriminatorConfig
from gan_core.stylegan2 import LRELU_GAIN, Blur, EqualLinear


class EqualConv2d(nn.Module):
    """Equalised-learning-rate convolution: the weight is scaled by 1/sqrt(fan_in) when applied."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class ConvLayer(nn.Sequential):
    """[blur,] conv[, bias + leaky ReLU * sqrt 2]: one discriminator layer, downsampling 2x when asked."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, downsample: bool = False, activate: bool = True):
        layers: list[nn.Module] = []
        if downsample:  # blur so that the strided conv sees a band-limited input (kernel 4, factor 2)
            pad = 2 + (kernel - 1)
            layers.append(Blur(pad=((pad + 1) // 2, pad // 2), gain=1.0))
        stride, padding = (2, 0) if downsample else (1, kernel // 2)
        layers.append(EqualConv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=not activate))
        if activate:
            layers.append(_BiasAct(out_ch))
        super().__init__(*layers)


class _BiasAct(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * LRELU_GAIN


class ResBlock(nn.Module):
    """Two 3x3 layers (the second halves the side) plus a 1x1 downsampling skip, summed and scaled by 1/sqrt 2."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=True, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


def minibatch_stddev(x: torch.Tensor, *, group: int) -> torch.Tensor:
    """Append one feature map: the standard deviation over a group of images, averaged over channels and pixels.

    It lets the discriminator see the variety of a batch, so a generator that collapses to few images is caught.

    Shapes:
        ``[N, C, H, W]`` -> ``[N, C + 1, H, W]``; N must be a multiple of ``min(group, N)``.
    """
    n, c, h, w = x.shape
    g = min(group, n)
    if n % g:
        raise ValueError(f"batch of {n} is not a multiple of the minibatch-stddev group {g}")
    y = x.reshape(g, n // g, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [N / g]
    return torch.cat([x, y.repeat(g)[:, None, None, None].expand(n, 1, h, w)], dim=1)


class Discriminator(nn.Module):
    """Image ``[N, 3, R, R]`` in [-1, 1] -> realness logit ``[N, 1]``."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        c = config.channels
        blocks: list[nn.Module] = [ConvLayer(3, c(config.resolution), 1)]
        res = config.resolution
        while res > 4:
            blocks.append(ResBlock(c(res), c(res // 2)))
            res //= 2
        self.convs = nn.Sequential(*blocks)
        self.final_conv = ConvLayer(c(4) + 1, c(4), 3)
        self.final_linear = nn.Sequential(EqualLinear(c(4) * 16, c(4), act=True), EqualLinear(c(4), 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[1:] != (3, self.config.resolution, self.config.resolution):
            raise ValueError(
                f"expected images [N, 3, {self.config.resolution}, {self.config.resolution}], got {tuple(image.shape)}"
            )
        x = self.convs(image)
        x = self.final_conv(minibatch_stddev(x, group=self.config.mbstd_group))
        return self.final_linear(x.flatten(1))
