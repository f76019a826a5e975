"""StyleGAN2 config-f generator (Karras et al. 2020) in plain PyTorch.

The layout follows the published FFHQ generator: an 8-layer mapping network (pixel norm, equalised-lr linear
layers with lr multiplier 0.01 and scaled leaky ReLU), a learned 4x4 constant, two modulated/demodulated 3x3
convolutions per resolution (the first upsamples 2x through a transposed convolution and the [1,3,3,1] blur),
per-layer noise inputs, and the skip architecture: a 1x1 modulated toRGB per resolution whose outputs are
upsampled and summed. A W+ code has ``2 * log2(resolution) - 2`` rows (18 at 1024).

Parameter names are those of the widely used PyTorch port (``style.N``, ``input.input``, ``conv1``,
``to_rgb1``, ``convs.N``, ``to_rgbs.N``, ``noises.noise_N``) so its ``g_ema`` state dict loads strictly with
``load_state_dict``; :mod:`gan_core.stylegan2_weights` maps the NVIDIA layout onto the same names.

Convolutions use the "non-fused" form: scale the input by the style, convolve with the shared weight, scale
the output by the demodulation coefficients. That equals the grouped-convolution form exactly in real
arithmetic and batches as one ordinary convolution, which is what the batched projector needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_core.stylegan2_config import GeneratorConfig
from gan_core.upfirdn import make_filter, upfirdn2d, upsample2d

LRELU_GAIN = math.sqrt(2.0)


class EqualLinear(nn.Module):
    """Equalised-learning-rate linear layer: weight stored / lr_mul, applied times lr_mul / sqrt(fan_in)."""

    def __init__(self, in_dim: int, out_dim: int, *, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale)
        out = out + self.bias * self.lr_mul
        return F.leaky_relu(out, 0.2) * LRELU_GAIN if self.act else out


class PixelNorm(nn.Module):
    """Normalise each latent to unit second moment (the mapping network's input layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class Blur(nn.Module):
    """The [1,3,3,1] FIR filter after a transposed convolution (gain 4 for 2x upsampling)."""

    def __init__(self, *, pad: tuple[int, int], gain: float):
        super().__init__()
        self.register_buffer("kernel", make_filter(gain=gain))
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p0, p1 = self.pad
        return upfirdn2d(x, self.kernel, pad=(p0, p1, p0, p1))


class Upsample(nn.Module):
    """2x FIR upsampling of the skip RGB image."""

    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", make_filter(gain=4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample2d(x, self.kernel)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution with optional demodulation and 2x upsampling.

    Shapes:
        x ``[N, I, H, W]``, w ``[N, style_dim]`` -> ``[N, O, H', W']`` (H' = 2H when upsampling).
    """

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, style_dim: int, *, demodulate: bool = True, upsample: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel, kernel))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel // 2
        if upsample:
            self.blur = Blur(pad=(1, 1), gain=4.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = self.modulation(w)  # [N, I]
        weight = self.weight[0] * self.scale  # [O, I, k, k]
        x = x * style[:, :, None, None].to(x.dtype)
        if self.upsample:
            x = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=2)
            x = self.blur(x)
        else:
            x = F.conv2d(x, weight.to(x.dtype), padding=self.padding)
        if self.demodulate:
            # sum over (i, k, k) of (w_oikk * s_ni)^2 = s^2 @ (sum_kk w^2)^T
            demod = torch.rsqrt(style.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # [N, O]
            x = x * demod[:, :, None, None].to(x.dtype)
        return x


class NoiseInjection(nn.Module):
    """Adds ``weight * noise`` (one learned strength per layer)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight.to(x.dtype) * noise.to(x.dtype)


class BiasLeakyReLU(nn.Module):
    """Bias, leaky ReLU (0.2) and the sqrt(2) gain, then the optional clamp."""

    def __init__(self, channels: int, *, clamp: float | None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(x + self.bias[None, :, None, None].to(x.dtype), 0.2) * LRELU_GAIN
        return x.clamp(-self.clamp, self.clamp) if self.clamp is not None else x


class StyledConv(nn.Module):
    """Modulated conv, noise, bias + activation: one synthesis layer."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, *, upsample: bool = False, clamp: float | None):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = BiasLeakyReLU(out_ch, clamp=clamp)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, w), noise))


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) to RGB, plus the upsampled RGB of the previous resolution."""

    def __init__(self, in_ch: int, style_dim: int, *, upsample: bool = True, clamp: float | None):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.clamp = clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias.to(x.dtype)
        if self.clamp is not None:
            out = out.clamp(-self.clamp, self.clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))


class Generator(nn.Module):
    """StyleGAN2 generator: ``mapping`` (Z -> W) and ``synthesis`` (W+ and noise -> image in [-1, 1])."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        c, sd, clamp = config.channels, config.style_dim, config.conv_clamp
        self.style = nn.Sequential(
            PixelNorm(), *[EqualLinear(sd, sd, lr_mul=config.lr_mlp, act=True) for _ in range(config.n_mlp)]
        )
        self.input = ConstantInput(c(4))
        self.conv1 = StyledConv(c(4), c(4), sd, clamp=clamp)
        self.to_rgb1 = ToRGB(c(4), sd, upsample=False, clamp=clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for i in range(3, config.log_size + 1):
            res = 2**i
            self.convs.append(StyledConv(c(res // 2), c(res), sd, upsample=True, clamp=clamp))
            self.convs.append(StyledConv(c(res), c(res), sd, clamp=clamp))
            self.to_rgbs.append(ToRGB(c(res), sd, clamp=clamp))
        self.noises = nn.Module()
        for i, shape in enumerate(config.noise_shapes()):
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, *shape))

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """Z ``[N, style_dim]`` -> W ``[N, style_dim]``."""
        return self.style(z)

    def fixed_noises(self) -> list[torch.Tensor]:
        """The stored noise maps, each ``[1, 1, r, r]``."""
        return [getattr(self.noises, f"noise_{i}") for i in range(self.config.n_noise)]

    def synthesis(self, ws: torch.Tensor, noises: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Render W+ codes.

        Args:
            ws: ``[N, n_latent, style_dim]`` W+ codes (repeat one W over the rows for plain W).
            noises: ``n_noise`` maps, each ``[N or 1, 1, r, r]``; None uses the stored (constant) maps.

        Returns:
            ``[N, 3, resolution, resolution]`` images, nominally in [-1, 1].
        """
        noises = self.fixed_noises() if noises is None else noises
        if ws.shape[1:] != (self.config.n_latent, self.config.style_dim) or len(noises) != self.config.n_noise:
            raise ValueError(
                f"expected W+ [N, {self.config.n_latent}, {self.config.style_dim}] and "
                f"{self.config.n_noise} noise maps, got {tuple(ws.shape)} and {len(noises)}"
            )
        x = self.input.input.repeat(ws.shape[0], 1, 1, 1).to(ws.dtype)
        x = self.conv1(x, ws[:, 0], noises[0])
        skip = self.to_rgb1(x, ws[:, 1])
        for k, to_rgb in enumerate(self.to_rgbs):
            i = 1 + 2 * k
            x = self.convs[2 * k](x, ws[:, i], noises[i])
            x = self.convs[2 * k + 1](x, ws[:, i + 1], noises[i + 1])
            skip = to_rgb(x, ws[:, i + 2], skip)
        return skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Z ``[N, style_dim]`` -> image ``[N, 3, R, R]`` with the stored noise."""
        w = self.mapping(z)
        return self.synthesis(w[:, None].expand(-1, self.config.n_latent, -1))


@torch.no_grad()
def mean_w(
    *, generator: Generator, n_samples: int = 10_000, seed: int = 123, batch: int = 1000
) -> tuple[torch.Tensor, float]:
    """Mean W over ``n_samples`` mapped Gaussian Z, and the RMS distance of the samples to it.

    The projector starts from the mean and scales its latent noise by the RMS distance (NVIDIA's projector).

    Returns:
        ``([style_dim], std)``.
    """
    gen = torch.Generator().manual_seed(seed)
    device = generator.input.input.device
    ws = []
    for start in range(0, n_samples, batch):
        z = torch.randn(min(batch, n_samples - start), generator.config.style_dim, generator=gen)
        ws.append(generator.mapping(z.to(device)).float())
    w = torch.cat(ws)
    avg = w.mean(dim=0)
    std = float(((w - avg).square().sum() / n_samples).sqrt())
    return avg, std
