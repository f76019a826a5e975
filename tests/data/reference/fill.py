"""Deterministic, seed-free tensor values shared by the reference generator script and the tests.

``fill(name, shape)`` depends only on the key name and the shape (a sine of the element index with a phase from
the name's CRC-32), so NVIDIA's code, the lpips package and this project's ports can be given identical weights
without any weight file and without relying on a random-number generator being identical across versions.
"""

from __future__ import annotations

import zlib

import torch


def fill(name: str, shape: tuple[int, ...] | torch.Size, *, scale: float = 1.0) -> torch.Tensor:
    """float32 tensor of ``shape`` with values ``scale * sin(0.7311 * i + phase(name))``."""
    n = 1
    for s in shape:
        n *= int(s)
    phase = (zlib.crc32(name.encode()) % 10_000) / 1000.0
    values = torch.sin(torch.arange(n, dtype=torch.float64) * 0.7311 + phase) * scale
    return values.to(torch.float32).reshape(tuple(shape))
