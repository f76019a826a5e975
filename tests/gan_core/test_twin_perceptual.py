"""The twin distance: zero on the same picture, symmetric, and the projector's interface (features once)."""

from __future__ import annotations

import torch

from gan_core.twin_perceptual import TwinPerceptual
from landmark_core.train import build_model
from landmark_core.train_config import ModelConfig

SMALL = ModelConfig(size=32, stem_channels=4, encoder_channels=(8, 16), encoder_blocks=(1, 1), decoder_channels=(8, 8))


def test_the_distance_is_zero_on_one_picture_symmetric_and_grows_with_the_difference():
    distance = TwinPerceptual(build_model(SMALL, seed=0, device=torch.device("cpu")))
    a = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    noise = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    near, far = (a + 0.05 * noise).clamp(-1, 1), (a + 0.5 * noise).clamp(-1, 1)
    assert torch.allclose(distance(a, a), torch.zeros(2), atol=1e-6)
    assert torch.allclose(distance(a, far), distance(far, a), atol=1e-6)
    assert (distance(a, near) < distance(a, far)).all() and distance(a, near).shape == (2,)
    target = distance.features(a)  # the projector computes the target's features once
    assert torch.allclose(distance.distance(distance.features(far), target), distance(far, a), atol=1e-6)
    assert not any(p.requires_grad for p in distance.parameters())


def test_gradients_reach_the_picture():
    distance = TwinPerceptual(build_model(SMALL, seed=0, device=torch.device("cpu")))
    picture = (torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1).requires_grad_(True)
    distance(picture, torch.ones(1, 3, 32, 32) * 0.5).sum().backward()
    assert picture.grad is not None and picture.grad.abs().sum() > 0
