"""Training a StyleGAN2 pair: reproducible from its seed, resumable bit for bit, lazy R1, the EMA, and it learns."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gan_core.gan_checkpoint import load_state, save_state
from gan_core.gan_train import _ws, new_state, train_gan
from gan_core.gan_train_config import DiscriminatorConfig, GanTrainConfig
from gan_core.stylegan2_config import GeneratorConfig

G16 = GeneratorConfig(resolution=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
D16 = DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16)
QUICK = GanTrainConfig(steps=3, batch=4, r1_interval=2, ema_kimg=0.01, seed=5)


def _state(config: GanTrainConfig = QUICK):
    return new_state(generator_config=G16, discriminator_config=D16, config=config)


def _images(n: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_same_seed_gives_the_same_losses_and_weights_and_another_seed_does_not():
    a = train_gan(state=_state(), images=_images(), config=QUICK)
    b = train_gan(state=_state(), images=_images(), config=QUICK)
    assert a.losses == b.losses and len(a.losses) == 3
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.generator_ema.state_dict().values(), b.generator_ema.state_dict().values(), strict=True)
    )
    other = dataclasses.replace(QUICK, seed=6)
    c = train_gan(state=_state(other), images=_images(), config=other)
    assert c.losses != a.losses


def test_initialisation_depends_on_the_seed_alone_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    one = _state().generator.state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(999)
    two = _state().generator.state_dict()
    assert all(torch.equal(one[k], two[k]) for k in one)


def test_r1_is_applied_on_every_intervalth_step_only():
    config = dataclasses.replace(QUICK, steps=5, r1_interval=2)
    losses = train_gan(state=_state(config), images=_images(), config=config).losses
    assert [s.r1 is not None for s in losses] == [True, False, True, False, True]
    assert all(s.r1 >= 0 for s in losses if s.r1 is not None)
    none = dataclasses.replace(config, r1_gamma=0.0)
    assert all(s.r1 is None for s in train_gan(state=_state(none), images=_images(), config=none).losses)


def test_the_discriminators_adam_is_corrected_for_lazy_regularisation():
    state = _state(dataclasses.replace(QUICK, r1_interval=16))
    group = state.d_optim.param_groups[0]
    c = 16 / 17
    assert group["lr"] == pytest.approx(0.002 * c) and group["betas"] == pytest.approx((0.0, 0.99**c))
    assert state.g_optim.param_groups[0]["lr"] == 0.002


def test_the_average_follows_the_generator_at_the_configured_half_life():
    config = dataclasses.replace(QUICK, steps=1)
    state = _state(config)
    before = {k: v.clone() for k, v in state.generator_ema.state_dict().items()}
    train_gan(state=state, images=_images(), config=config)
    beta = config.ema_beta()
    assert beta == pytest.approx(0.5 ** (4 / 10))
    name = "conv1.conv.weight"
    expected = before[name] * beta + state.generator.state_dict()[name] * (1 - beta)
    assert torch.allclose(state.generator_ema.state_dict()[name], expected, atol=1e-6)
    assert not torch.equal(state.generator_ema.state_dict()[name], before[name])


def test_a_resumed_training_continues_exactly_like_an_uninterrupted_one(tmp_path):
    config = dataclasses.replace(QUICK, steps=4)
    straight = train_gan(state=_state(config), images=_images(), config=config)
    half = train_gan(state=_state(config), images=_images(), config=dataclasses.replace(config, steps=2))
    save_state(state=half, path=tmp_path / "state.pt")
    resumed = load_state(state=_state(config), path=tmp_path / "state.pt")
    assert resumed.step == 2 and resumed.losses == half.losses
    train_gan(state=resumed, images=_images(), config=config)
    assert resumed.losses == straight.losses
    for k, v in straight.generator_ema.state_dict().items():
        assert torch.equal(resumed.generator_ema.state_dict()[k], v), k


def test_a_checkpoint_runs_no_code(tmp_path, hostile_torch_file):
    path, marker = hostile_torch_file()
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        load_state(state=_state(), path=path)
    assert not marker.exists()


def test_style_mixing_switches_codes_at_one_row():
    g = _state().generator
    rng = torch.Generator().manual_seed(0)
    ws = _ws(g, batch=64, mixing_prob=1.0, rng=rng)  # [64, n_latent, style_dim]
    for w in ws:
        changes = (w[1:] != w[:-1]).any(dim=1).sum()
        assert changes == 1  # one cut, somewhere after the first row
    plain = _ws(g, batch=8, mixing_prob=0.0, rng=rng)
    assert all(bool((w == w[0]).all()) for w in plain)


def test_a_constant_dataset_is_learned():
    """Twenty steps on images that are all one colour move the average generator's colour toward it."""
    colour = torch.tensor([0.6, -0.4, 0.2])
    images = colour[None, :, None, None].expand(8, 3, 16, 16).clone()
    config = dataclasses.replace(QUICK, steps=20, batch=8, lr=0.01, ema_kimg=0.02, r1_interval=4)
    state = _state(config)
    z = torch.randn(16, G16.style_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        start = (state.generator_ema(z).mean(dim=(0, 2, 3)) - colour).abs().mean()
    train_gan(state=state, images=images, config=config)
    with torch.no_grad():
        end = (state.generator_ema(z).mean(dim=(0, 2, 3)) - colour).abs().mean()
    assert end < 0.5 * start, (float(start), float(end))


def test_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match="discriminator sees 32 px, the generator makes 16 px"):
        new_state(generator_config=G16, discriminator_config=dataclasses.replace(D16, resolution=32), config=QUICK)
    with pytest.raises(ValueError, match=r"expected real images \[N, 3, 16, 16\]"):
        train_gan(state=_state(), images=torch.zeros(4, 3, 8, 8), config=QUICK)
