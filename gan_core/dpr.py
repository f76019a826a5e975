"""DPR's lighting estimator: the 512x512 grayscale HourglassNet of "Deep Single-Image Portrait Relighting"
(Zhou, Hadap, Sunkavalli, Jacobs, ICCV 2019), ported so the published ``trained_model_03.t7`` loads strictly.

The network is a four-level hourglass; the innermost features' first 27 channels, averaged over space, go
through two 1x1 convolutions to the 9 second-order spherical-harmonic (SH) lighting coefficients of the input
(DPR's order and normalisation, see :mod:`gan_core.sh`). Input: the L channel of CIE Lab (OpenCV's 8-bit Lab)
divided by 255, at 512x512. The decoder (relighting to a target SH) is ported too, so every published tensor
has its place; the estimator runs only the encoder path it needs.

Module and parameter names are the published ones, including the nesting that registers each inner hourglass
twice (``HG1.middle`` is ``HG0``): the published state dict lists those tensors under both paths.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_core.strict import load_strict
from landmark_core.weights_file import load_weights_file

N_LIGHT_FEATURES = 27  # innermost channels that carry the lighting


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm (or instance norm without parameters) and a 1x1 shortcut when widths differ."""

    def __init__(self, inplanes: int, outplanes: int, *, instance_norm: bool = False):
        super().__init__()
        self.inplanes, self.outplanes = inplanes, outplanes
        self.conv1 = nn.Conv2d(inplanes, outplanes, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(outplanes, outplanes, 3, padding=1, bias=False)
        norm = nn.InstanceNorm2d if instance_norm else nn.BatchNorm2d
        self.bn1, self.bn2 = norm(outplanes), norm(outplanes)
        self.shortcuts = nn.Conv2d(inplanes, outplanes, 1, bias=False)  # published even where unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        out = out + (self.shortcuts(x) if self.inplanes != self.outplanes else x)
        return F.relu(out)


class LightingNet(nn.Module):
    """Innermost-feature lighting head: predict SH from the mean of the lighting channels; map a target SH back."""

    def __init__(self, n_in: int = N_LIGHT_FEATURES, n_out: int = 9, n_mid: int = 128):
        super().__init__()
        self.n_in = n_in
        self.predict_FC1 = nn.Conv2d(n_in, n_mid, 1, bias=False)
        self.predict_relu1 = nn.PReLU()
        self.predict_FC2 = nn.Conv2d(n_mid, n_out, 1, bias=False)
        self.post_FC1 = nn.Conv2d(n_out, n_mid, 1, bias=False)
        self.post_relu1 = nn.PReLU()
        self.post_FC2 = nn.Conv2d(n_mid, n_in, 1, bias=False)
        self.post_relu2 = nn.ReLU()

    def predict(self, inner: torch.Tensor) -> torch.Tensor:
        """``[N, C, h, w]`` innermost features -> ``[N, 9, 1, 1]`` SH."""
        feat = inner[:, : self.n_in].mean(dim=(2, 3), keepdim=True)
        return self.predict_FC2(self.predict_relu1(self.predict_FC1(feat)))

    def forward(self, inner: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        light = self.predict(inner)
        up = self.post_relu2(self.post_FC2(self.post_relu1(self.post_FC1(target))))
        up = up.expand(-1, -1, *inner.shape[2:])
        return torch.cat([up, inner[:, self.n_in :]], dim=1), light


class HourglassBlock(nn.Module):
    """One hourglass level: an upper (skip) branch and a lower branch through the next level."""

    def __init__(self, inplane: int, mid_plane: int, middle: nn.Module):
        super().__init__()
        self.upper = BasicBlock(inplane, inplane, instance_norm=True)
        self.downSample = nn.MaxPool2d(2, 2)
        self.upSample = nn.Upsample(scale_factor=2, mode="nearest")
        self.low1 = BasicBlock(inplane, mid_plane)
        self.middle = middle
        self.low2 = BasicBlock(mid_plane, inplane, instance_norm=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The lower branch's way in (down-sample, ``low1``)."""
        return self.low1(self.downSample(x))

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lower, light = self.middle(self.encode(x), target)
        return self.upSample(self.low2(lower)) + self.upper(x), light


class HourglassNet(nn.Module):
    """DPR's 512 grayscale network (``baseFilter`` 16).

    Shapes:
        ``estimate_light``: ``[N, 1, 512, 512]`` L/255 -> ``[N, 9]`` SH.
        ``forward``: (``[N, 1, 512, 512]``, target ``[N, 9, 1, 1]``) -> (relit ``[N, 1, 512, 512]``, ``[N, 9, 1, 1]``).
    """

    def __init__(self, base: int = 16):
        super().__init__()
        self.pre_conv = nn.Conv2d(1, base, 5, padding=2)
        self.pre_bn = nn.BatchNorm2d(base)
        self.light = LightingNet()
        self.HG0 = HourglassBlock(4 * base, 8 * base + N_LIGHT_FEATURES, self.light)
        self.HG1 = HourglassBlock(2 * base, 4 * base, self.HG0)
        self.HG2 = HourglassBlock(base, 2 * base, self.HG1)
        self.HG3 = HourglassBlock(base, base, self.HG2)
        self.conv_1, self.bn_1 = nn.Conv2d(base, base, 3, padding=1), nn.BatchNorm2d(base)
        self.conv_2, self.bn_2 = nn.Conv2d(base, base, 1), nn.BatchNorm2d(base)
        self.conv_3, self.bn_3 = nn.Conv2d(base, base, 1), nn.BatchNorm2d(base)
        self.output = nn.Conv2d(base, 1, 1)

    def estimate_light(self, x: torch.Tensor) -> torch.Tensor:
        """SH lighting of ``x`` (runs only the encoder path to the innermost features)."""
        feat = F.relu(self.pre_bn(self.pre_conv(x)))
        for block in (self.HG3, self.HG2, self.HG1, self.HG0):
            feat = block.encode(feat)
        return self.light.predict(feat).flatten(1)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = F.relu(self.pre_bn(self.pre_conv(x)))
        feat, light = self.HG3(feat, target)
        for conv, bn in ((self.conv_1, self.bn_1), (self.conv_2, self.bn_2), (self.conv_3, self.bn_3)):
            feat = F.relu(bn(conv(feat)))
        return torch.sigmoid(self.output(feat)), light


def load_dpr(path: Path) -> HourglassNet:
    """The published DPR weights in the port, strictly (``weights_only``; every key and shape), in eval mode.

    Raises:
        WeightsMismatchError: keys or shapes differ from the network's.
    """
    model = HourglassNet()
    load_strict(model, load_weights_file(path, what="DPR weights"), source=f"{path} (DPR 512)")
    return model.eval().requires_grad_(False)


def dpr_input(*, image_bgr: np.ndarray, size: int = 512) -> torch.Tensor:
    """A BGR face crop as DPR's input: L of OpenCV's 8-bit Lab / 255, resized to ``size``.

    Shapes:
        ``[H, W, 3]`` uint8 -> ``[1, 1, size, size]`` float32.
    """
    resized = cv2.resize(image_bgr, (size, size))
    lum = cv2.cvtColor(resized, cv2.COLOR_BGR2LAB)[:, :, 0].astype(np.float32) / 255.0
    return torch.from_numpy(lum)[None, None]


@torch.no_grad()
def estimate_sh(*, model: HourglassNet, images_bgr: list[np.ndarray]) -> np.ndarray:
    """DPR's SH estimate of each face crop.

    Returns:
        ``[N, 9]`` float64 SH coefficients (DPR's order).
    """
    device = next(model.parameters()).device
    batch = torch.cat([dpr_input(image_bgr=image) for image in images_bgr]).to(device)
    return model.estimate_light(batch).double().cpu().numpy()
