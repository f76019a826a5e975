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


def _pseudo_points(
    *, logits: torch.Tensor, matrix: torch.Tensor, perm: torch.Tensor, sources: list[int], target: int, mode: str
) -> torch.Tensor:
    """The mean over ``sources`` of each source copy's decoded landmarks mapped into copy ``target``.

    ``heatmap`` decodes top-1 (no gradient), ``soft_l2`` soft-argmax (with gradients).
    Shapes: logits (B, V, K, H, W); matrix (B, V, 3, 3); perm (B, V, K) -> (B, K, 2).
    """
    mapped = []
    for src in sources:
        transform, index = relate_views(matrix=matrix, perm=perm, source=src, target=target)
        points = decode_argmax(logits[:, src].detach()) if mode == "heatmap" else soft_argmax(logits[:, src])
        mapped.append(map_points(transform=transform, index=index, points=points))
    return torch.stack(mapped).mean(dim=0)


def _consistency(*, stages: list[torch.Tensor], pseudo: torch.Tensor, target: int, sigma: float, mode: str):
    """One copy's ELT term against its pseudo landmarks (landmarks mapped outside the crop do not count)."""
    size = stages[-1].shape[-1]
    mask = _inside(pseudo, size)
    if mode == "heatmap":
        return sum(heatmap_kl(logits=s[:, target], points=pseudo, mask=mask, sigma=sigma) for s in stages)
    err = ((pseudo - soft_argmax(stages[-1][:, target])) / size).pow(2).sum(-1)
    return 0.5 * (err * mask.float()).sum() / mask.float().sum().clamp_min(1.0)


def elt_loss(
    *,
    stages: list[torch.Tensor],
    matrix: torch.Tensor,
    perm: torch.Tensor,
    sigma: float,
    mode: str,
    reference: str = "first",
) -> torch.Tensor:
    """L_elt for a batch of V >= 2 copies of each sample.

    With two copies (the study) each copy's pseudo landmarks are the other's, mapped through the exact relative
    transform, and the term is the mean of the two directions. With V >= 3 copies (beyond the study):

    * ``first``: the mean of that pair term over the pairs (first copy, copy v), v = 2..V. Each term is the
      study's own; a copy that duplicates another adds nothing new, so V = 3 with its third copy equal to the
      second is exactly the study's loss.
    * ``mean``: each copy's pseudo landmarks are the mean of all other copies' landmarks mapped into it (a
      leave-one-out mean, so V = 2 is again the study's); the targets average out single-copy errors.

    Photometric and occlusion changes move no landmark and leave the matrices alone, so the term is invariant
    to them: an occluded landmark is still a target of the copy it is hidden in.

    Args:
        stages: per stage (B, V, K, H, W) heatmap logits.
        matrix: (B, V, 3, 3) original -> copy matrices.
        perm: (B, V, K) landmark permutations.
        sigma: heatmap target sigma (``heatmap`` mode).
        mode: ``heatmap`` (stop-gradient top-1 pseudo targets) or ``soft_l2``.
        reference: ``first`` or ``mean`` (only matters for V >= 3).

    Returns:
        Scalar.
    """
    copies = stages[-1].shape[1]
    total = stages[-1].new_zeros((), dtype=torch.float32)
    if reference == "mean" or copies == 2:
        for target in range(copies):
            sources = [v for v in range(copies) if v != target]
            pseudo = _pseudo_points(
                logits=stages[-1], matrix=matrix, perm=perm, sources=sources, target=target, mode=mode
            )
            total = total + _consistency(stages=stages, pseudo=pseudo, target=target, sigma=sigma, mode=mode)
        return total / copies
    for other in range(1, copies):
        pair = [s[:, [0, other]] for s in stages]
        total = total + elt_loss(
            stages=pair, matrix=matrix[:, [0, other]], perm=perm[:, [0, other]], sigma=sigma, mode=mode
        )
    return total / (copies - 1)


def landmark_loss(
    *, stages: list[torch.Tensor], batch: dict[str, torch.Tensor], config: LossConfig, views: int
) -> LossParts:
    """L_gt over every view of the labelled faces plus lambda * L_elt over the copies of every face.

    Args:
        stages: per stage (B * V, K, H, W) logits, views of a sample adjacent.
        batch: ``landmarks`` (B, V, K, 2), ``visible`` (B, V, K), ``matrix`` (B, V, 3, 3), ``perm`` (B, V, K),
            optionally ``labelled`` (B,) bool: an unlabelled face's landmarks are masked out of L_gt (no
            gradient reaches it through that term) and it reaches L_elt only.
        config: loss settings.
        views: V.
    """
    visible = batch["visible"]
    if "labelled" in batch:
        visible = visible & batch["labelled"][:, None, None]
    gt = gt_loss(
        stages=stages,
        points=batch["landmarks"].flatten(0, 1),
        visible=visible.flatten(0, 1),
        sigma=config.sigma,
    )
    elt = torch.zeros((), device=gt.device)
    if config.elt_lambda > 0 and views >= 2:
        copies = [s.unflatten(0, (-1, views)) for s in stages]
        elt = elt_loss(
            stages=copies,
            matrix=batch["matrix"],
            perm=batch["perm"],
            sigma=config.sigma,
            mode=config.elt_mode,
            reference=config.elt_reference,
        )
    return LossParts(total=gt + config.elt_lambda * elt, gt=gt.detach(), elt=elt.detach())
