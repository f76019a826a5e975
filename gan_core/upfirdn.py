"""Upsample, FIR-filter, downsample (``upfirdn2d``) in plain PyTorch: StyleGAN2's resampling primitive.

StyleGAN2 resamples with the separable [1, 3, 3, 1] binomial filter: zero-insertion upsampling, padding, a true
2-D convolution with the filter, then strided downsampling. The NVIDIA code ships a CUDA kernel for this with a
reference path; this module is that reference path written with ``F.pad`` and a depthwise ``F.conv2d`` so it
runs unchanged on CPU and GPU (and under autocast).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def make_filter(taps: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0), *, gain: float = 1.0) -> torch.Tensor:
    """The normalised 2-D FIR filter (outer product of ``taps``), scaled by ``gain``.

    Args:
        taps: 1-D filter taps.
        gain: overall gain (``up ** 2`` after zero-insertion upsampling keeps the DC level).

    Returns:
        ``[k, k]`` float32 filter summing to ``gain``.
    """
    k = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(k, k)
    return f / f.sum() * gain


def upfirdn2d(
    x: torch.Tensor, f: torch.Tensor, *, up: int = 1, down: int = 1, pad: tuple[int, int, int, int] = (0, 0, 0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``f`` per channel, then keep every ``down``-th sample.

    Args:
        x: ``[N, C, H, W]`` input.
        f: ``[kh, kw]`` filter (convolution, i.e. flipped before the correlation ``conv2d`` does).
        up: integer upsampling factor.
        down: integer downsampling factor.
        pad: ``(x0, x1, y0, y1)`` padding in upsampled pixels; negative values crop.

    Returns:
        ``[N, C, H', W']`` with ``H' = (H * up + y0 + y1 - kh) // down + 1`` (and likewise for W).
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = pad
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    weight = f.flip([0, 1]).to(dtype=x.dtype, device=x.device)[None, None].expand(c, 1, *f.shape)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x upsampling with the FIR filter ``f`` (already carrying gain 4), as StyleGAN2's skip-RGB path does.

    Shapes:
        ``[N, C, H, W] -> [N, C, 2H, 2W]`` for a 4-tap filter.
    """
    k = f.shape[0]
    p = k - 2
    return upfirdn2d(x, f, up=2, pad=((p + 1) // 2 + 1, p // 2, (p + 1) // 2 + 1, p // 2))
