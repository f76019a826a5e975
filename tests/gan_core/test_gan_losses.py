"""The non-saturating logistic losses and the R1 penalty, on values worked by hand."""

from __future__ import annotations

import math

import torch

from gan_core.gan_losses import discriminator_loss, generator_loss, r1_penalty


def test_undecided_logits_cost_log_two_per_term():
    zero = torch.zeros(4, 1)
    assert math.isclose(float(generator_loss(fake_logits=zero)), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(discriminator_loss(real_logits=zero, fake_logits=zero)), 2 * math.log(2), rel_tol=1e-6)


def test_a_confident_right_discriminator_costs_nothing_and_fools_nobody():
    real, fake = torch.full((3, 1), 30.0), torch.full((5, 1), -30.0)
    assert float(discriminator_loss(real_logits=real, fake_logits=fake)) < 1e-12
    assert math.isclose(float(generator_loss(fake_logits=fake)), 30.0, rel_tol=1e-9)  # no saturation: grows linearly


def test_the_generator_loss_is_minus_log_sigmoid():
    logits = torch.tensor([[-2.0], [0.5], [3.0]])
    expected = -torch.log(torch.sigmoid(logits)).mean()
    assert torch.allclose(generator_loss(fake_logits=logits), expected)


def test_r1_of_a_linear_critic_is_its_weights_squared_norm():
    a = torch.randn(3, 4, 4, requires_grad=True)
    images = torch.randn(2, 3, 4, 4, requires_grad=True)
    logits = (images * a).sum(dim=(1, 2, 3))[:, None]
    penalty = r1_penalty(real_logits=logits, real_images=images)
    assert torch.allclose(penalty, a.square().sum())
    penalty.backward()  # the graph is kept: the penalty reaches the critic's weights
    assert torch.allclose(a.grad, 2 * a.detach())
