"""The encoder's training on codes a (tiny) generator renders: seeded draws, the three terms, a reproducible and
improving fit."""

from __future__ import annotations

import pytest
import torch

from gan_core.stylegan2 import Generator, mean_w
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.w_encoder import encoder_for
from gan_core.w_encoder_train import EncoderTrainConfig, TwinEncoderConfig, sample_pairs, train_encoder


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    config = GeneratorConfig(resolution=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
    return Generator(config).eval().requires_grad_(False)


def _fresh(generator):
    torch.manual_seed(1)
    w_avg, w_std = mean_w(generator=generator, n_samples=256)
    shape = TwinEncoderConfig(channels=4, max_channels=16, hidden=32).shape_for(generator)
    return encoder_for(config=shape, w_avg=w_avg, seed=0), w_std


def test_pairs_are_seeded_and_mixed_codes_change_row_once(generator):
    draw = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    codes, noises, images = sample_pairs(generator=generator, batch=6, mixing_prob=1.0, draw=draw())
    again = sample_pairs(generator=generator, batch=6, mixing_prob=1.0, draw=draw())
    assert torch.equal(codes, again[0]) and torch.equal(images, again[2])
    assert codes.shape == (6, generator.config.n_latent, 16) and images.shape == (6, 3, 16, 16)
    assert len(noises) == generator.config.n_noise
    changes = (codes[:, 1:] != codes[:, :-1]).any(dim=2).sum(dim=1)
    assert changes.tolist() == [1] * 6  # every code mixed: one crossover row each
    plain, _, _ = sample_pairs(generator=generator, batch=6, mixing_prob=0.0, draw=draw())
    assert torch.equal(plain[:, :1].expand_as(plain), plain)


def test_training_is_reproducible_and_fits_the_codes_better_than_it_started(generator):
    config = EncoderTrainConfig(steps=60, batch=8, lr=3e-3, image_weight=1.0)
    runs = []
    for _ in range(2):
        encoder, w_std = _fresh(generator)
        runs.append(train_encoder(encoder=encoder, generator=generator, w_std=w_std, config=config))
    assert runs[0] == runs[1] and len(runs[0]) == 60 and not encoder.training
    first, last = runs[0][:10], runs[0][-10:]
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    assert mean(last, "total") < 0.8 * mean(first, "total")
    assert set(runs[0][0]) == {"latent", "image", "delta", "total"}
