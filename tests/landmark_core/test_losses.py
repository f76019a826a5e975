"""L_gt and L_elt: view relations, zero loss for an exactly equivariant toy model, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landmark_core import geometry
from landmark_core.heatmap import separable_targets
from landmark_core.losses import elt_loss, landmark_loss, map_points, relate_views
from landmark_core.train_config import LossConfig
from landmark_core.wflw import FLIP_PERMUTATION

SIZE = 32
K = 98


def _oracle(points: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Logits whose softmax is exactly the target distribution of ``points``. (B, K, 2) -> (B, K, S, S)."""
    tx, ty = separable_targets(points=points, height=SIZE, width=SIZE, sigma=sigma)
    return torch.log((ty[..., :, None] * tx[..., None, :]).clamp_min(1e-30))


def _pair(second: np.ndarray, flip: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two views of random original points; view 2 = ``second`` @ view 1 (optionally mirrored)."""
    rng = np.random.default_rng(seed)
    orig = rng.integers(10, 22, size=(K, 2)) + 0.5  # pixel centres near the middle of a 32x32 crop
    m1 = np.eye(3)
    m2 = second @ m1
    p1, p2 = np.arange(K), (np.asarray(FLIP_PERMUTATION) if flip else np.arange(K))
    pts = np.stack(
        [geometry.apply_points(matrix=m1, points=orig[p1]), geometry.apply_points(matrix=m2, points=orig[p2])]
    )
    return {
        "matrix": torch.from_numpy(np.stack([m1, m2]))[None],
        "perm": torch.from_numpy(np.stack([p1, p2]))[None],
        "landmarks": torch.from_numpy(pts).float()[None],
        "visible": torch.ones(1, 2, K, dtype=torch.bool),
    }


ROT90 = geometry.rotation_scale(angle_deg=90, scale=1.0, center=(SIZE / 2, SIZE / 2))
FLIP = geometry.hflip(center_x=SIZE / 2)


@pytest.mark.parametrize("flip", [False, True])
def test_relate_views_maps_view_one_onto_view_two(flip):
    batch = _pair(ROT90 @ FLIP if flip else ROT90, flip)
    transform, index = relate_views(matrix=batch["matrix"], perm=batch["perm"], source=0, target=1)
    mapped = map_points(transform=transform, index=index, points=batch["landmarks"][:, 0])
    torch.testing.assert_close(mapped, batch["landmarks"][:, 1])
    back_t, back_i = relate_views(matrix=batch["matrix"], perm=batch["perm"], source=1, target=0)
    torch.testing.assert_close(map_points(transform=back_t, index=back_i, points=mapped), batch["landmarks"][:, 0])


@pytest.mark.parametrize("flip", [False, True])
def test_elt_is_zero_for_an_exactly_equivariant_model(flip):
    batch = _pair(ROT90 @ FLIP if flip else ROT90, flip)
    stages = [_oracle(batch["landmarks"].flatten(0, 1)).unflatten(0, (1, 2))] * 2
    loss = elt_loss(stages=stages, matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="heatmap")
    assert abs(float(loss)) < 1e-4
    # A model that ignores the transform (the same heatmaps in both views) is not equivariant.
    same = _oracle(batch["landmarks"][:, 0]).unsqueeze(1).expand(-1, 2, -1, -1, -1)
    assert float(elt_loss(stages=[same], matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="heatmap")) > 5


def test_soft_l2_elt_is_zero_for_an_equivariant_model_under_any_rotation():
    rot = geometry.rotation_scale(angle_deg=33.0, scale=1.0, center=(SIZE / 2, SIZE / 2))
    batch = _pair(rot, flip=False, seed=2)
    stages = [_oracle(batch["landmarks"].flatten(0, 1)).unflatten(0, (1, 2))]
    loss = elt_loss(stages=stages, matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="soft_l2")
    assert float(loss) < 1e-8
    same = _oracle(batch["landmarks"][:, 0]).unsqueeze(1).expand(-1, 2, -1, -1, -1)
    assert float(elt_loss(stages=[same], matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="soft_l2")) > 1e-3


@pytest.mark.parametrize("mode", ["heatmap", "soft_l2"])
def test_elt_produces_gradients(mode):
    batch = _pair(ROT90, flip=False)
    logits = torch.randn(1, 2, K, SIZE, SIZE, requires_grad=True)
    elt_loss(stages=[logits], matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode=mode).backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[:, 0].abs().sum() > 0 and logits.grad[:, 1].abs().sum() > 0


def test_pseudo_targets_outside_the_crop_are_ignored():
    shift = geometry.translation(dx=100.0, dy=0.0)  # view 2 sees every landmark outside its crop
    batch = _pair(shift, flip=False)
    logits = torch.randn(1, 2, K, SIZE, SIZE)
    assert float(elt_loss(stages=[logits], matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="heatmap")) == 0


def test_landmark_loss_is_gt_plus_lambda_elt_and_sums_over_stages():
    batch = _pair(ROT90, flip=False)
    torch.manual_seed(0)
    stages = [torch.randn(2, K, SIZE, SIZE), torch.randn(2, K, SIZE, SIZE)]
    base = landmark_loss(stages=stages, batch=batch, config=LossConfig(elt_lambda=0.0), views=2)
    assert float(base.elt) == 0.0 and float(base.total) == pytest.approx(float(base.gt))
    one = landmark_loss(stages=stages[:1], batch=batch, config=LossConfig(), views=2)
    assert float(base.gt) > float(one.gt)  # two stages -> two terms
    elt = landmark_loss(stages=stages, batch=batch, config=LossConfig(elt_lambda=0.25), views=2)
    assert float(elt.elt) > 0
    assert float(elt.total) == pytest.approx(float(elt.gt) + 0.25 * float(elt.elt), rel=1e-5)
    perfect = [_oracle(batch["landmarks"].flatten(0, 1))]
    assert abs(float(landmark_loss(stages=perfect, batch=batch, config=LossConfig(), views=2).gt)) < 1e-4


def test_loss_config_rejects_unknown_mode():
    with pytest.raises(ValueError, match="elt_mode"):
        LossConfig(elt_mode="l1")
