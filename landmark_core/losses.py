"""The training objective: L = L_gt + lambda * L_elt (section 3.3).

L_gt is the heatmap loss against the annotated landmarks over visible landmarks only, summed over the
cascade stages. L_elt relates the two views of a sample: the landmarks predicted on view 1 are mapped into
view 2 through the exact relative transform of the stored matrices (T = M2 M1^-1: for rotation-only views
a rotation by beta - alpha about the common centre) and serve as pseudo ground truth for view 2, and
symmetrically. Top-1 decoding has no gradient, so the ``heatmap`` mode uses the mapped top-1 points as
stop-gradient targets of the same heatmap loss, as the study describes; the ``soft_l2`` mode instead
compares differentiable soft-argmax points, with gradients through both views.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from landmark_core.heatmap import decode_argmax, heatmap_kl, soft_argmax
from landmark_core.train_config import LossConfig


@dataclass(frozen=True)
class LossParts:
    """The total and its terms (scalars; ``total`` carries the graph)."""

    total: torch.Tensor
    gt: torch.Tensor
    elt: torch.Tensor


def gt_loss(*, stages: list[torch.Tensor], points: torch.Tensor, visible: torch.Tensor, sigma: float) -> torch.Tensor:
    """L_gt summed over stages.

    Shapes: stages: list of (B, K, H, W); points (B, K, 2); visible (B, K) bool -> scalar.
    """
    return sum(heatmap_kl(logits=s, points=points, mask=visible, sigma=sigma) for s in stages)


def relate_views(
    *, matrix: torch.Tensor, perm: torch.Tensor, source: int, target: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """How view ``source``'s landmarks map onto view ``target``'s.

    Landmark j of the target view corresponds to landmark index[j] of the source view (mirrors permute
    landmarks), at position transform @ source_point.

    Shapes:
        matrix (B, V, 3, 3) original -> view; perm (B, V, K) -> transform (B, 3, 3), index (B, K).
    """
    transform = matrix[:, target] @ torch.linalg.inv(matrix[:, source])
    inverse_src = torch.argsort(perm[:, source], dim=-1)
    return transform, torch.gather(inverse_src, 1, perm[:, target])


def map_points(*, transform: torch.Tensor, index: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Source-view points expressed in the target view. Shapes: (B, 3, 3), (B, K), (B, K, 2) -> (B, K, 2)."""
    picked = torch.gather(points, 1, index[..., None].expand(-1, -1, 2)).to(transform.dtype)
    mapped = picked @ transform[:, :2, :2].transpose(1, 2) + transform[:, None, :2, 2]
    return mapped.to(points.dtype)


def _inside(points: torch.Tensor, size: int) -> torch.Tensor:
    return ((points >= 0) & (points < size)).all(dim=-1)


def elt_loss(
    *, stages: list[torch.Tensor], matrix: torch.Tensor, perm: torch.Tensor, sigma: float, mode: str
) -> torch.Tensor:
    """L_elt for a batch of view pairs, symmetric in the two views.

    Args:
        stages: per stage (B, V=2, K, H, W) heatmap logits.
        matrix: (B, 2, 3, 3) original -> view matrices.
        perm: (B, 2, K) landmark permutations.
        sigma: heatmap target sigma (``heatmap`` mode).
        mode: ``heatmap`` or ``soft_l2``.

    Returns:
        Scalar.
    """
    size = stages[-1].shape[-1]
    total = stages[-1].new_zeros((), dtype=torch.float32)
    for src, dst in ((0, 1), (1, 0)):
        transform, index = relate_views(matrix=matrix, perm=perm, source=src, target=dst)
        if mode == "heatmap":
            pseudo = map_points(transform=transform, index=index, points=decode_argmax(stages[-1][:, src].detach()))
            mask = _inside(pseudo, size)
            total = total + sum(heatmap_kl(logits=s[:, dst], points=pseudo, mask=mask, sigma=sigma) for s in stages)
        else:
            mapped = map_points(transform=transform, index=index, points=soft_argmax(stages[-1][:, src]))
            mask = _inside(mapped, size).float()
            err = ((mapped - soft_argmax(stages[-1][:, dst])) / size).pow(2).sum(-1)
            total = total + 0.5 * (err * mask).sum() / mask.sum().clamp_min(1.0)
    return total / 2


def landmark_loss(
    *, stages: list[torch.Tensor], batch: dict[str, torch.Tensor], config: LossConfig, views: int
) -> LossParts:
    """L_gt over every view plus lambda * L_elt over the view pair.

    Args:
        stages: per stage (B * V, K, H, W) logits, views of a sample adjacent.
        batch: ``landmarks`` (B, V, K, 2), ``visible`` (B, V, K), ``matrix`` (B, V, 3, 3), ``perm`` (B, V, K).
        config: loss settings.
        views: V.
    """
    gt = gt_loss(
        stages=stages,
        points=batch["landmarks"].flatten(0, 1),
        visible=batch["visible"].flatten(0, 1),
        sigma=config.sigma,
    )
    elt = torch.zeros((), device=gt.device)
    if config.elt_lambda > 0 and views == 2:
        paired = [s.unflatten(0, (-1, views)) for s in stages]
        elt = elt_loss(
            stages=paired, matrix=batch["matrix"], perm=batch["perm"], sigma=config.sigma, mode=config.elt_mode
        )
    return LossParts(total=gt + config.elt_lambda * elt, gt=gt.detach(), elt=elt.detach())
