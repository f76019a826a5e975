"""A perceptual distance for the twin: LPIPS's recipe on the features of a network trained on twin faces.

LPIPS compares unit-normalised features of ImageNet's VGG16 stage by stage. Those weights cannot be had here,
and a random network's features mean nothing. The twin landmark model's encoder was trained on aligned twin
faces to find their landmarks, so its features at each scale describe where a face's parts are: two pictures
of the same face are near, another face or a face moved is far. The distance is LPIPS's with equal weights for
every channel (its "baseline" variant): for each encoder level, the squared difference of the unit-normalised
features, summed over channels and averaged over positions; then summed over levels. It offers the projector's
interface (``features`` once for the target, ``distance`` every step), so projection and the review gate use it
as they use LPIPS.
"""

from __future__ import annotations

import torch
from torch import nn

from landmark_core.model import CascadedLandmarkNet


class TwinPerceptual(nn.Module):
    """The distance on the encoder of a twin landmark model's first stage (frozen).

    Shapes:
        a, b ``[N, 3, H, W]`` RGB in [-1, 1] (the generator's pictures) -> ``[N]``.
    """

    def __init__(self, landmarks: CascadedLandmarkNet) -> None:
        super().__init__()
        trunk = landmarks.trunks[0]
        self.stem, self.down = trunk.stem, trunk.down
        self.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised features of every encoder level (compute the target's once, reuse every step)."""
        y = (x.flip(1) + 1.0) / 2.0  # RGB [-1, 1] -> the landmark network's BGR [0, 1]
        y = (y - 0.5) / 0.25  # the network's own input normalisation (CascadedLandmarkNet.forward)
        levels = [self.stem(y)]
        for down in self.down:
            levels.append(down(levels[-1]))
        return [f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10) for f in levels]

    def distance(self, feats_a: list[torch.Tensor], feats_b: list[torch.Tensor]) -> torch.Tensor:
        """The distance from precomputed :meth:`features` (``[N]``)."""
        total = 0
        for fa, fb in zip(feats_a, feats_b, strict=True):
            total = total + (fa - fb).square().sum(dim=1).mean(dim=(1, 2))
        return total

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(a), self.features(b))
