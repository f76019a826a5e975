"""LPIPS (Zhang et al. 2018), VGG16 variant v0.1: the projector's perceptual distance.

The same network as the ``lpips`` package's ``LPIPS(net="vgg")``: fixed input scaling, the five ReLU stages of
torchvision's VGG16 feature extractor (relu1_2 ... relu5_3), channel-wise unit normalisation, squared
differences weighted by learned 1x1 "linear" layers, spatial mean, summed over stages. Parameter names are the
package's (``scaling_layer.shift``, ``net.slice1.0.weight``, ``lin0.model.1.weight``) so both published files
load strictly: torchvision's ``vgg16-397923af.pth`` (its ``features.*``; its classifier is not part of LPIPS and
is dropped by name) and the package's ``weights/v0.1/vgg.pth``.

Why a port rather than the package: ``lpips`` imports torchvision at import time, and torchvision's wheels
must match the installed torch build exactly (the CPU torch used here has no importable torchvision). The
port is checked against values produced by the package (``tests/data/reference``).

:class:`PerceptualConfig` sets the widths, so tests build a tiny stand-in with the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from landmark_core.weights_file import load_weights_file

# ImageNet-derived input scaling of LPIPS (inputs in [-1, 1]).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


@dataclass(frozen=True)
class PerceptualConfig:
    """Widths of the five VGG stages and the number of 3x3 convs in each (VGG16: 64,128,256,512,512 / 2,2,3,3,3)."""

    widths: tuple[int, ...] = (64, 128, 256, 512, 512)
    depths: tuple[int, ...] = (2, 2, 3, 3, 3)


TINY_PERCEPTUAL = PerceptualConfig(widths=(4, 8, 8, 8, 8), depths=(1, 1, 1, 1, 1))
"""A stand-in with LPIPS' structure and interface, for tests and the demo (no published weights needed)."""


class ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class LinearHead(nn.Module):
    """Dropout + 1x1 conv to one channel, without bias (the package's ``NetLinLayer``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))
        with torch.no_grad():  # published LPIPS weights are non-negative; keep a random stand-in a distance too
            self.model[1].weight.abs_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _vgg_layers(config: PerceptualConfig) -> list[list[tuple[int, nn.Module]]]:
    """torchvision ``features`` indices and modules, grouped into the five LPIPS slices."""
    slices, index, in_ch = [], 0, 3
    for stage, (width, depth) in enumerate(zip(config.widths, config.depths, strict=True)):
        layers = []
        if stage > 0:
            layers.append((index, nn.MaxPool2d(2, 2)))
            index += 1
        for _ in range(depth):
            layers += [(index, nn.Conv2d(in_ch, width, 3, padding=1)), (index + 1, nn.ReLU())]
            index += 2
            in_ch = width
        slices.append(layers)
    return slices


class VGGSlices(nn.Module):
    """VGG16 features up to relu5_3, returning the output of each of the five stages."""

    def __init__(self, config: PerceptualConfig):
        super().__init__()
        for i, layers in enumerate(_vgg_layers(config)):
            block = nn.Sequential()
            for index, module in layers:
                block.add_module(str(index), module)
            setattr(self, f"slice{i + 1}", block)
        self.n_slices = len(config.widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i in range(self.n_slices):
            x = getattr(self, f"slice{i + 1}")(x)
            feats.append(x)
        return feats


class LPIPS(nn.Module):
    """Perceptual distance per image pair.

    Shapes:
        a, b ``[N, 3, H, W]`` in [-1, 1] -> ``[N]``.
    """

    def __init__(self, config: PerceptualConfig = PerceptualConfig()):
        super().__init__()
        self.config = config
        self.scaling_layer = ScalingLayer()
        self.net = VGGSlices(config)
        for i, width in enumerate(config.widths):
            setattr(self, f"lin{i}", LinearHead(width))
        self.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised stage features of ``x`` (compute the target's once, reuse every step)."""
        return [f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10) for f in self.net(self.scaling_layer(x))]

    def distance(self, feats_a: list[torch.Tensor], feats_b: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS from precomputed :meth:`features` (``[N]``)."""
        total = 0
        for i, (fa, fb) in enumerate(zip(feats_a, feats_b, strict=True)):
            total = total + getattr(self, f"lin{i}")((fa - fb).square()).mean(dim=(2, 3))
        return total[:, 0]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(a), self.features(b))


def vgg_key_map(config: PerceptualConfig = PerceptualConfig()) -> dict[str, str]:
    """torchvision ``features.<i>.<p>`` -> LPIPS ``net.slice<s>.<i>.<p>`` for every conv parameter."""
    out = {}
    for s, layers in enumerate(_vgg_layers(config)):
        for index, module in layers:
            if isinstance(module, nn.Conv2d):
                for p in ("weight", "bias"):
                    out[f"features.{index}.{p}"] = f"net.slice{s + 1}.{index}.{p}"
    return out


def load_lpips(*, vgg_path: Path, lin_path: Path, config: PerceptualConfig = PerceptualConfig()) -> LPIPS:
    """Build LPIPS-VGG from the two published files, strictly.

    Args:
        vgg_path: torchvision's VGG16 ImageNet state dict (``vgg16-397923af.pth``).
        lin_path: the lpips package's ``weights/v0.1/vgg.pth``.

    Raises:
        ValueError: a file lacks a tensor the network needs, or has one it cannot place (the VGG classifier
            excepted), or a shape differs.
    """
    vgg = load_weights_file(vgg_path, what="VGG16 weights")
    lin = load_weights_file(lin_path, what="LPIPS linear weights")
    keys = vgg_key_map(config)
    extra = sorted(k for k in vgg if k not in keys and not k.startswith("classifier."))
    if extra:
        raise ValueError(f"{vgg_path}: tensors not in VGG16's feature extractor: {extra[:8]}")
    missing = sorted(k for k in keys if k not in vgg)
    if missing:
        raise ValueError(f"{vgg_path}: missing {missing[:8]}")
    model = LPIPS(config)
    state = {
        **{keys[k]: vgg[k] for k in keys},
        **dict(lin),
        **{k: v for k, v in model.state_dict().items() if k.startswith("scaling_layer.")},
    }
    own = model.state_dict()
    bad = sorted(set(own) ^ set(state)) + sorted(k for k in own if k in state and own[k].shape != state[k].shape)
    if bad:
        raise ValueError(f"{lin_path}/{vgg_path}: keys or shapes do not match LPIPS-VGG: {bad[:8]}")
    model.load_state_dict(state, strict=True)
    return model


def downsample_to(x: torch.Tensor, *, size: int = 256) -> torch.Tensor:
    """Box-filter ``[N, C, R, R]`` down to ``size`` when larger (the projector compares at 256, as VGG expects)."""
    if x.shape[-1] <= size:
        return x
    return F.adaptive_avg_pool2d(x, size)
