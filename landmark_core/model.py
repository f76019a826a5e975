"""The study's landmark network: two identical MobileNetV2 encoder-decoders in cascade, one heatmap head each.

Stage layout (default config, 128x128 input)::

    stem 3x3 conv             128x128x16 ------------------------------------------------ skip --.
    2x2/2 conv + 1 IR block    64x64x32  ------------------------------------- skip --.          |
    2x2/2 conv + 2 IR blocks   32x32x64  ---------------------------- skip --.        |          |
    2x2/2 conv + 3 IR blocks   16x16x128 ----------------- skip --.          |        |          |
    2x2/2 conv + 4 IR blocks    8x8x256  (bottleneck)             |          |        |          |
    up 2x2/2, concat, 1x1, IR  16x16x128 <------------------------'          |        |          |
    up 2x2/2, concat, 1x1, IR  32x32x64  <-----------------------------------'        |          |
    up 2x2/2, concat, 1x1, IR  64x64x32  <--------------------------------------------'          |
    up 2x2/2, concat, 1x1, IR 128x128x32 <-------------------------------------------------------'
    head 1x1                  128x128x98 heatmap logits

Stage 2 sees the image concatenated with stage 1's heatmaps (each softmax map scaled to a peak of 1), after
whole heatmaps are dropped at random during training (a regulariser). The feature trunk
(``EncoderDecoder``) and the head (``HeatmapHead``) are separate modules so other heads can be added.
Input convention: (B, 3, S, S) float in [0, 1], BGR as OpenCV reads.
"""

from __future__ import annotations

import torch
from torch import nn

from landmark_core.train_config import ModelConfig


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(
            c_in,
            c_out,
            kernel,
            stride=stride,
            padding=(kernel - 1) // 2 if kernel % 2 else 0,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear project; residual between the narrow ends."""

    def __init__(self, channels: int, expansion: int) -> None:
        super().__init__()
        hidden = channels * expansion
        self.block = nn.Sequential(
            _conv_bn(channels, hidden, 1),
            _conv_bn(hidden, hidden, 3, groups=hidden),
            _conv_bn(hidden, channels, 1, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class _Down(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, blocks: int, expansion: int) -> None:
        super().__init__(
            _conv_bn(c_in, c_out, 2, stride=2), *(InvertedResidual(c_out, expansion) for _ in range(blocks))
        )


class _Up(nn.Module):
    def __init__(self, c_in: int, c_skip: int, c_out: int, expansion: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c_in, c_out, 2, stride=2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True)
        )
        self.fuse = _conv_bn(c_out + c_skip, c_out, 1)
        self.block = InvertedResidual(c_out, expansion)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.block(self.fuse(torch.cat([self.up(x), skip], dim=1)))


class EncoderDecoder(nn.Module):
    """The feature trunk of one stage. Shapes: (B, in_channels, S, S) -> (B, decoder_channels[-1], S, S)."""

    def __init__(self, in_channels: int, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.stem = _conv_bn(in_channels, c.stem_channels, 3)
        widths = (c.stem_channels, *c.encoder_channels)
        self.down = nn.ModuleList(
            _Down(widths[i], widths[i + 1], c.encoder_blocks[i], c.expansion) for i in range(len(c.encoder_channels))
        )
        ins = (c.encoder_channels[-1], *c.decoder_channels[:-1])
        skips = widths[-2::-1]
        self.up = nn.ModuleList(
            _Up(ins[i], skips[i], c.decoder_channels[i], c.expansion) for i in range(len(c.decoder_channels))
        )
        self.out_channels = c.decoder_channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.up:
            y = up(y, skips.pop())
        return y


class HeatmapHead(nn.Module):
    """1x1 convolution from features to one heatmap (logits) per landmark."""

    def __init__(self, in_channels: int, num_landmarks: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_landmarks, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(features)


def heatmap_drop(heatmaps: torch.Tensor, *, p: float, training: bool) -> torch.Tensor:
    """Zero whole heatmaps with probability p during training (no rescaling: they are maps, not activations).

    Shapes: (B, K, H, W) -> (B, K, H, W).
    """
    if not training or p <= 0:
        return heatmaps
    keep = torch.rand(heatmaps.shape[:2], device=heatmaps.device) >= p
    return heatmaps * keep[..., None, None].to(heatmaps.dtype)


def peak_normalised(logits: torch.Tensor) -> torch.Tensor:
    """Spatial softmax of each map divided by its maximum, so every map peaks at 1. Shapes: (B, K, H, W)."""
    prob = torch.softmax(logits.flatten(2).float(), dim=-1)
    prob = prob / prob.amax(dim=-1, keepdim=True).clamp_min(1e-12)
    return prob.view_as(logits).to(logits.dtype)


class CascadedLandmarkNet(nn.Module):
    """The cascade. forward returns every stage's heatmap logits; the last stage is the prediction.

    Shapes:
        image (B, 3, S, S) float [0, 1] -> list of ``stages`` tensors (B, K, S, S).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        k = config.num_landmarks
        self.trunks = nn.ModuleList(EncoderDecoder(3 if i == 0 else 3 + k, config) for i in range(config.stages))
        self.heads = nn.ModuleList(HeatmapHead(t.out_channels, k) for t in self.trunks)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - 0.5) / 0.25
        outputs: list[torch.Tensor] = []
        for i, (trunk, head) in enumerate(zip(self.trunks, self.heads, strict=True)):
            if i == 0:
                inp = x
            else:
                prior = heatmap_drop(peak_normalised(outputs[-1]), p=self.config.heatmap_drop, training=self.training)
                inp = torch.cat([x, prior], dim=1)
            outputs.append(head(trunk(inp)))
        return outputs


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
