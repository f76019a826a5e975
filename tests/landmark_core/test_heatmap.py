"""Heatmap targets, the KL loss and decoding."""

from __future__ import annotations

import math

import torch

from landmark_core.heatmap import decode_argmax, decode_quarter_offset, heatmap_kl, separable_targets, soft_argmax


def _log_target(points: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    tx, ty = separable_targets(points=points, height=size, width=size, sigma=sigma)
    return torch.log((ty[..., :, None] * tx[..., None, :]).clamp_min(1e-30))


def test_targets_are_distributions_centred_on_the_point():
    pts = torch.tensor([[[10.5, 20.5], [3.0, 7.25]]])
    tx, ty = separable_targets(points=pts, height=32, width=24, sigma=1.5)
    assert tx.shape == (1, 2, 24) and ty.shape == (1, 2, 32)
    torch.testing.assert_close(tx.sum(-1), torch.ones(1, 2))
    centres = torch.arange(24) + 0.5
    assert float((tx[0, 0] * centres).sum()) == 10.5 and int(tx[0, 0].argmax()) == 10
    assert abs(float((ty[0, 1] * (torch.arange(32) + 0.5)).sum()) - 7.25) < 1e-4


def test_kl_is_zero_for_the_target_itself_and_positive_elsewhere():
    pts = torch.tensor([[[10.5, 20.5], [5.2, 6.9]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    exact = heatmap_kl(logits=_log_target(pts, 32, 1.0), points=pts, mask=mask, sigma=1.0)
    assert abs(float(exact)) < 1e-5
    shifted = heatmap_kl(logits=_log_target(pts + 3, 32, 1.0), points=pts, mask=mask, sigma=1.0)
    # Two Gaussians of equal sigma 3 px apart in x and y: KL = (3^2 + 3^2) / (2 sigma^2) = 9, up to the grid.
    assert abs(float(shifted) - 9.0) < 0.05


def test_kl_equals_cross_entropy_minus_entropy_against_a_dense_reference():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    pts = torch.rand(2, 3, 2) * 8
    mask = torch.tensor([[True, False, True], [True, True, True]])
    tx, ty = separable_targets(points=pts, height=8, width=8, sigma=0.8)
    t = (ty[..., :, None] * tx[..., None, :]).flatten(2)
    logp = torch.log_softmax(logits.flatten(2), -1)
    dense = (t * (torch.log(t) - logp)).sum(-1)
    expected = dense[mask].mean()
    torch.testing.assert_close(heatmap_kl(logits=logits, points=pts, mask=mask, sigma=0.8), expected)


def test_masked_out_landmarks_do_not_count_and_no_mask_gives_zero():
    pts = torch.tensor([[[4.5, 4.5], [4.5, 4.5]]])
    logits = _log_target(pts, 16, 1.0)
    logits[0, 1] = 0.0  # a bad prediction on landmark 1
    only_first = torch.tensor([[True, False]])
    assert abs(float(heatmap_kl(logits=logits, points=pts, mask=only_first, sigma=1.0))) < 1e-5
    none = torch.zeros(1, 2, dtype=torch.bool)
    assert float(heatmap_kl(logits=logits, points=pts, mask=none, sigma=1.0)) == 0.0


def test_gradients_reach_the_logits_not_the_points():
    logits = torch.zeros(1, 1, 8, 8, requires_grad=True)
    pts = torch.tensor([[[2.5, 3.5]]], requires_grad=True)
    heatmap_kl(logits=logits, points=pts, mask=torch.ones(1, 1, dtype=torch.bool), sigma=1.0).backward()
    assert logits.grad.abs().sum() > 0 and pts.grad is None


def test_argmax_decodes_pixel_centres_and_soft_argmax_the_mean():
    logits = torch.full((1, 2, 10, 12), -50.0)
    logits[0, 0, 3, 7] = 50.0
    logits[0, 1, 9, 0] = 50.0
    torch.testing.assert_close(decode_argmax(logits), torch.tensor([[[7.5, 3.5], [0.5, 9.5]]]))
    torch.testing.assert_close(soft_argmax(logits), torch.tensor([[[7.5, 3.5], [0.5, 9.5]]]))
    two = torch.full((1, 1, 4, 4), -math.inf)
    two[0, 0, 1, 1] = two[0, 0, 1, 3] = 0.0
    torch.testing.assert_close(soft_argmax(two), torch.tensor([[[2.5, 1.5]]]))


def test_quarter_offset_decoding_moves_toward_the_higher_neighbour_and_stays_put_at_the_border():
    logits = torch.zeros(1, 3, 8, 8)
    logits[0, 0, 3, 4], logits[0, 0, 3, 5], logits[0, 0, 4, 4] = 10.0, 5.0, 2.0  # right and below are higher
    logits[0, 1, 2, 2], logits[0, 1, 2, 1], logits[0, 1, 1, 2] = 10.0, 5.0, 5.0  # left and above
    logits[0, 2, 0, 7] = 10.0  # a corner: no neighbour on one side, no shift
    points = decode_quarter_offset(logits)[0]
    assert torch.allclose(points, torch.tensor([[4.75, 3.75], [2.25, 2.25], [7.5, 0.5]]))
    assert torch.allclose(points - decode_argmax(logits)[0], torch.tensor([[0.25, 0.25], [-0.25, -0.25], [0.0, 0.0]]))
