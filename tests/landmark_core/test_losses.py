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


def _two_faces(labelled: list[bool]) -> dict[str, torch.Tensor]:
    """A batch of two faces, each a rotated pair, with the given labelled flags."""
    one, two = _pair(ROT90, flip=False, seed=0), _pair(ROT90, flip=False, seed=1)
    batch = {k: torch.cat([one[k], two[k]]) for k in one}
    return {**batch, "labelled": torch.tensor(labelled)}


@pytest.mark.parametrize("mode", ["heatmap", "soft_l2"])
def test_an_unlabelled_face_never_reaches_the_heatmap_loss_and_does_reach_the_elt_term(mode):
    batch = _two_faces([True, False])
    logits = torch.randn(4, K, SIZE, SIZE, requires_grad=True)  # (B * V): face 0's two copies, then face 1's
    parts = landmark_loss(stages=[logits], batch=batch, config=LossConfig(elt_lambda=0.25, elt_mode=mode), views=2)
    config = LossConfig(elt_lambda=0.0)
    gt = gt_loss_of(logits, batch, config)
    (gt_grad,) = torch.autograd.grad(gt, [logits])
    assert gt_grad[:2].abs().sum() > 0 and float(gt_grad[2:].abs().sum()) == 0.0  # face 1 (unlabelled): none
    elt = elt_loss(
        stages=[logits.unflatten(0, (2, 2))], matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode=mode
    )
    (elt_grad,) = torch.autograd.grad(elt, [logits])
    assert elt_grad[2:].abs().sum() > 0  # the unlabelled face reaches the ELT term
    assert float(parts.total.detach()) == pytest.approx(float(parts.gt) + 0.25 * float(parts.elt), rel=1e-5)
    # Its landmarks do not matter: any value (even NaN) gives the same supervised loss.
    scrambled = {**batch, "landmarks": batch["landmarks"].clone()}
    scrambled["landmarks"][1] = float("nan")
    assert _value(gt_loss_of(logits, scrambled, config)) == pytest.approx(_value(gt))
    # Labelled, the same face does reach it.
    both = {**batch, "labelled": torch.tensor([True, True])}
    assert _value(gt_loss_of(logits, both, config)) != pytest.approx(_value(gt))


def gt_loss_of(logits: torch.Tensor, batch: dict[str, torch.Tensor], config: LossConfig) -> torch.Tensor:
    """The supervised term of ``landmark_loss`` with its graph (``LossParts.gt`` is detached)."""
    return landmark_loss(stages=[logits], batch=batch, config=config, views=2).total


def _value(loss: torch.Tensor) -> float:
    return float(loss.detach())


def _copies(matrices: list[np.ndarray], seed: int = 0) -> dict[str, torch.Tensor]:
    """V copies of random original points, copy v seen through ``matrices[v]``."""
    rng = np.random.default_rng(seed)
    orig = rng.integers(10, 22, size=(K, 2)) + 0.5
    pts = np.stack([geometry.apply_points(matrix=m, points=orig) for m in matrices])
    return {
        "matrix": torch.from_numpy(np.stack(matrices))[None],
        "perm": torch.arange(K).expand(1, len(matrices), K).clone(),
        "landmarks": torch.from_numpy(pts).float()[None],
    }


@pytest.mark.parametrize("mode", ["heatmap", "soft_l2"])
def test_three_copies_reduce_to_the_study_loss_when_the_third_equals_the_second(mode):
    torch.manual_seed(1)
    pair = _pair(ROT90, flip=False)
    logits = torch.randn(1, 2, K, SIZE, SIZE)
    study = elt_loss(stages=[logits], matrix=pair["matrix"], perm=pair["perm"], sigma=1.0, mode=mode)
    for reference in ("first", "mean"):  # two copies are the study's term either way
        two = elt_loss(
            stages=[logits], matrix=pair["matrix"], perm=pair["perm"], sigma=1.0, mode=mode, reference=reference
        )
        assert float(two) == float(study)
    three = [torch.cat([logits, logits[:, 1:]], dim=1)]
    matrix, perm = (
        torch.cat([pair["matrix"], pair["matrix"][:, 1:]], 1),
        torch.cat([pair["perm"], pair["perm"][:, 1:]], 1),
    )
    first = elt_loss(stages=three, matrix=matrix, perm=perm, sigma=1.0, mode=mode, reference="first")
    assert float(first) == pytest.approx(float(study), rel=1e-6)
    mean = elt_loss(stages=three, matrix=matrix, perm=perm, sigma=1.0, mode=mode, reference="mean")
    assert float(mean) != pytest.approx(float(study), rel=1e-3)  # the mean's targets differ: its own shape


def test_the_mean_reference_holds_each_copy_to_the_mean_of_the_others():
    rot = geometry.rotation_scale(angle_deg=20.0, scale=1.0, center=(SIZE / 2, SIZE / 2))
    batch = _copies([np.eye(3), ROT90, rot], seed=3)
    exact = [_oracle(batch["landmarks"].flatten(0, 1)).unflatten(0, (1, 3))]
    for reference in ("first", "mean"):  # an equivariant model satisfies both shapes
        loss = elt_loss(
            stages=exact, matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="soft_l2", reference=reference
        )
        assert float(loss) < 1e-8
    # Move copy 0's prediction by d pixels (e = (d / S)^2 per landmark; soft_l2 counts half of it). With the first
    # as reference both pairs see it: 0.5 e. With the mean, copy 0 sees all of it (0.5 e) and copies 1 and 2 a
    # quarter (its half in the mean, squared): (0.5 e + 2 * 0.125 e) / 3 = 0.25 e.
    shifted = batch["landmarks"].clone()
    shifted[:, 0, :, 0] += 2.0
    moved = [_oracle(shifted.flatten(0, 1)).unflatten(0, (1, 3))]
    first, mean = (
        float(
            elt_loss(stages=moved, matrix=batch["matrix"], perm=batch["perm"], sigma=1.0, mode="soft_l2", reference=r)
        )
        for r in ("first", "mean")
    )
    e = (2.0 / SIZE) ** 2
    assert first == pytest.approx(0.5 * e, rel=0.02) and mean == pytest.approx(0.25 * e, rel=0.02)
