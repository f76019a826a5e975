"""Heatmap targets, the per-landmark heatmap loss, and coordinate decoding.

Coordinates are crop pixels in the project convention: pixel (i, j) covers [j, j+1) x [i, i+1), its centre
is (j + 0.5, i + 0.5). The target of a landmark is a separable Gaussian over pixel centres, normalised to sum
to 1; the loss is the cross-entropy between that distribution and the softmax of the flattened heatmap,
minus the target's entropy (i.e. the KL divergence: same gradients as cross-entropy, and 0 for a perfect
prediction). Because the target is separable, the loss never materialises a (K, H, W) target:
sum_xy t_x t_y z_xy = t_y^T Z t_x.
"""

from __future__ import annotations

import torch


def _axis_targets(coords: torch.Tensor, length: int, sigma: float) -> torch.Tensor:
    centres = torch.arange(length, device=coords.device, dtype=torch.float32) + 0.5
    logits = -0.5 * ((centres - coords.float()[..., None]) / sigma) ** 2
    return torch.softmax(logits, dim=-1)


def separable_targets(
    *, points: torch.Tensor, height: int, width: int, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised 1-D Gaussians along x and y whose outer product is the target distribution.

    Shapes:
        points (B, K, 2) pixel xy -> tx (B, K, W), ty (B, K, H); each sums to 1 along its last axis.
    """
    return _axis_targets(points[..., 0], width, sigma), _axis_targets(points[..., 1], height, sigma)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-30))).sum(-1)


def heatmap_kl(*, logits: torch.Tensor, points: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Mean over masked landmarks of KL(target || softmax(heatmap)) (equation 3.7 up to a constant).

    Args:
        logits: (B, K, H, W) heatmap logits.
        points: (B, K, 2) target pixel xy (no gradient flows into them).
        mask: (B, K) bool, which landmarks count (visible and inside the crop).
        sigma: target Gaussian sigma in pixels.

    Returns:
        Scalar; 0 when no landmark is masked in.
    """
    b, k, h, w = logits.shape
    tx, ty = separable_targets(points=points.detach(), height=h, width=w, sigma=sigma)
    z = logits.float()
    lse = torch.logsumexp(z.flatten(2), dim=-1)
    expected = torch.einsum("bkhw,bkh,bkw->bk", z, ty, tx)
    kl = lse - expected - _entropy(tx) - _entropy(ty)
    kl = torch.where(mask, kl, torch.zeros_like(kl))  # a masked-out landmark cannot bring in inf or nan
    return kl.sum() / mask.sum().clamp_min(1).to(kl.dtype)


def decode_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Top-1 decoding: the centre of each heatmap's highest pixel.

    Shapes: (B, K, H, W) -> (B, K, 2) pixel xy.
    """
    return _pixel_centres(logits.flatten(2).argmax(dim=-1), logits.shape[-1])


def _pixel_centres(flat: torch.Tensor, w: int) -> torch.Tensor:
    """Pixel xy of the centres of flat indices into maps ``w`` wide. Shapes: (B, K) -> (B, K, 2)."""
    return torch.stack([(flat % w).float() + 0.5, torch.div(flat, w, rounding_mode="floor").float() + 0.5], dim=-1)


def decode_quarter_offset(logits: torch.Tensor) -> torch.Tensor:
    """Top-1 decoding moved a quarter pixel toward the higher neighbour along each axis (Newell et al.'s
    hourglass decoding): on coarse heatmaps it removes part of top-1's quantisation error.

    Shapes: (B, K, H, W) -> (B, K, 2) pixel xy.
    """
    h, w = logits.shape[-2:]
    z = logits.float().flatten(2)
    flat = z.argmax(dim=-1)
    x, y = flat % w, torch.div(flat, w, rounding_mode="floor")

    def slope(step: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        ahead = torch.gather(z, 2, (flat + step).clamp(0, h * w - 1)[..., None])[..., 0]
        behind = torch.gather(z, 2, (flat - step).clamp(0, h * w - 1)[..., None])[..., 0]
        return torch.where(inside, torch.sign(ahead - behind), torch.zeros_like(ahead))

    shift = torch.stack(
        [slope(torch.ones_like(flat), (x > 0) & (x < w - 1)), slope(torch.full_like(flat, w), (y > 0) & (y < h - 1))],
        dim=-1,
    )
    return _pixel_centres(flat, w) + 0.25 * shift  # the peak found once, for the centre and the slopes


DECODERS = {"top1": decode_argmax, "quarter_offset": decode_quarter_offset}


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Expected pixel centre under each heatmap's softmax (differentiable).

    Shapes: (B, K, H, W) -> (B, K, 2) pixel xy.
    """
    b, k, h, w = logits.shape
    prob = torch.softmax(logits.float().flatten(2), dim=-1).view(b, k, h, w)
    xs = torch.arange(w, device=logits.device, dtype=torch.float32) + 0.5
    ys = torch.arange(h, device=logits.device, dtype=torch.float32) + 0.5
    return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=-1)
