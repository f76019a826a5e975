"""Train a StyleGAN2 generator and discriminator on a set of aligned images (the twin's faces, here).

One step is one discriminator update (logistic loss, plus the lazy R1 penalty every ``r1_interval`` steps) and
one generator update (non-saturating loss), each on a fresh batch of latents with random noise maps and style
mixing, then an update of the generator's weight average (EMA), which is the network one uses afterwards.

Every random draw of step ``s`` comes from a generator seeded with ``(seed, s)``, so a run is reproducible
bit for bit on one machine, and a run resumed from its state at step ``s`` continues exactly as the
uninterrupted run would.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from gan_core.gan_losses import discriminator_loss, generator_loss, r1_penalty
from gan_core.gan_train_config import DiscriminatorConfig, GanTrainConfig
from gan_core.stylegan2 import Generator
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.stylegan2_discriminator import Discriminator


class RealImages(Protocol):
    """The real images a training draws from: a ``[N, 3, R, R]`` float tensor in [-1, 1], or anything that
    indexes like one (a bank that renders its faces when first drawn)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class StepLosses:
    """The losses of one step (R1 only on the steps that apply it)."""

    step: int
    generator: float
    discriminator: float
    r1: float | None = None


@dataclass
class GanState:
    """Everything a training needs to go on: the networks, the weight average, both optimisers, the next step, the
    losses and time so far."""

    generator: Generator
    generator_ema: Generator
    discriminator: Discriminator
    g_optim: torch.optim.Adam
    d_optim: torch.optim.Adam
    step: int = 0
    losses: list[StepLosses] = field(default_factory=list)
    seconds: float = 0.0  # the training's time so far, over every start (the timer is the caller's)


def new_state(
    *, generator_config: GeneratorConfig, discriminator_config: DiscriminatorConfig, config: GanTrainConfig
) -> GanState:
    """Fresh networks, initialised from ``config.seed`` alone (the global torch generator is left as it was).

    The discriminator's Adam has the lazy-regularisation correction: rate and betas raised to
    ``c = interval / (interval + 1)``, so the R1 steps' larger, rarer updates keep the same overall strength.
    """
    if discriminator_config.resolution != generator_config.resolution:
        raise ValueError(
            f"the discriminator sees {discriminator_config.resolution} px, the generator makes "
            f"{generator_config.resolution} px"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        generator, discriminator = Generator(generator_config), Discriminator(discriminator_config)
    c = config.r1_interval / (config.r1_interval + 1)
    g_optim = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    d_betas = (config.beta1**c, config.beta2**c)
    d_optim = torch.optim.Adam(discriminator.parameters(), lr=config.lr * c, betas=d_betas)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    return GanState(generator, ema, discriminator, g_optim, d_optim)


def _ws(generator: Generator, *, batch: int, mixing_prob: float, rng: torch.Generator) -> torch.Tensor:
    """W+ codes of ``batch`` fresh latents, a share of them switching to a second code at a random row.

    Shapes:
        -> ``[batch, n_latent, style_dim]``.
    """
    cfg = generator.config
    z = torch.randn(2, batch, cfg.style_dim, generator=rng)
    w = generator.mapping(z.reshape(2 * batch, -1)).reshape(2, batch, cfg.style_dim)
    cut = torch.randint(1, cfg.n_latent, (batch,), generator=rng)
    mixed = torch.rand(batch, generator=rng) < mixing_prob
    cut = torch.where(mixed, cut, torch.full_like(cut, cfg.n_latent))
    second = torch.arange(cfg.n_latent)[None, :] >= cut[:, None]  # [batch, n_latent]
    return torch.where(second[..., None], w[1][:, None], w[0][:, None])


def _fakes(generator: Generator, *, batch: int, config: GanTrainConfig, rng: torch.Generator) -> torch.Tensor:
    """Generated images with fresh noise maps. Shapes: -> ``[batch, 3, R, R]``."""
    ws = _ws(generator, batch=batch, mixing_prob=config.mixing_prob, rng=rng)
    noises = [torch.randn(batch, 1, *shape, generator=rng) for shape in generator.config.noise_shapes()]
    return generator.synthesis(ws, noises)


def _reals(images: RealImages, *, batch: int, rng: torch.Generator) -> torch.Tensor:
    """A batch drawn with replacement, each image mirrored with probability 1/2 (faces are left-right alike)."""
    picked = images[torch.randint(len(images), (batch,), generator=rng)]
    flip = torch.rand(batch, generator=rng) < 0.5
    return torch.where(flip[:, None, None, None], picked.flip(3), picked)


def _update_ema(ema: nn.Module, model: nn.Module, *, beta: float) -> None:
    with torch.no_grad():
        for averaged, current in zip(ema.parameters(), model.parameters(), strict=True):
            averaged.lerp_(current, 1.0 - beta)
        for averaged, current in zip(ema.buffers(), model.buffers(), strict=True):
            averaged.copy_(current)


def train_step(*, state: GanState, images: RealImages, config: GanTrainConfig) -> StepLosses:
    """One discriminator and one generator update, then the EMA; appends and returns the step's losses.

    Args:
        state: the training so far (changed in place; ``state.step`` advances by one).
        images: the real images, ``[N, 3, R, R]`` float in [-1, 1] (a tensor or a ``RealImages``).
        config: the training's settings.
    """
    rng = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)
    G, D = state.generator, state.discriminator
    reals = _reals(images, batch=config.batch, rng=rng)
    r1_now = config.r1_gamma > 0 and state.step % config.r1_interval == 0
    with torch.no_grad():
        fakes = _fakes(G, batch=config.batch, config=config, rng=rng)
    reals.requires_grad_(r1_now)
    real_logits = D(reals)
    d_loss = discriminator_loss(real_logits=real_logits, fake_logits=D(fakes))
    r1 = r1_penalty(real_logits=real_logits, real_images=reals) if r1_now else None
    total = d_loss + (config.r1_gamma / 2 * config.r1_interval) * r1 if r1 is not None else d_loss
    state.d_optim.zero_grad(set_to_none=True)
    total.backward()
    state.d_optim.step()

    D.requires_grad_(False)
    g_loss = generator_loss(fake_logits=D(_fakes(G, batch=config.batch, config=config, rng=rng)))
    state.g_optim.zero_grad(set_to_none=True)
    g_loss.backward()
    state.g_optim.step()
    D.requires_grad_(True)

    _update_ema(state.generator_ema, G, beta=config.ema_beta())
    r1_value = None if r1 is None else float(r1.detach())
    losses = StepLosses(state.step, float(g_loss.detach()), float(d_loss.detach()), r1_value)
    state.losses.append(losses)
    state.step += 1
    return losses


def train_gan(
    *,
    state: GanState,
    images: torch.Tensor,
    config: GanTrainConfig,
    on_step: Callable[[StepLosses], None] | None = None,
) -> GanState:
    """Run ``train_step`` until ``config.steps`` steps are done (a resumed state goes on from its step).

    Args:
        state: from ``new_state``, or a saved training's state.
        images: ``[N, 3, R, R]`` float real images in [-1, 1], at the generator's resolution.
        config: the training's settings.
        on_step: called after each step with its losses (progress, checkpoints).

    Returns:
        ``state``, trained to ``config.steps``.
    """
    resolution = state.generator.config.resolution
    if images.ndim != 4 or images.shape[1:] != (3, resolution, resolution):
        raise ValueError(f"expected real images [N, 3, {resolution}, {resolution}], got {tuple(images.shape)}")
    if config.batch % min(state.discriminator.config.mbstd_group, config.batch):
        raise ValueError(f"batch {config.batch} is not a multiple of mbstd_group")
    while state.step < config.steps:
        losses = train_step(state=state, images=images, config=config)
        if on_step is not None:
            on_step(losses)
    return state
