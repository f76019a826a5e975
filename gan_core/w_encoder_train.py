"""Train a W+ encoder on pairs the generator makes itself: sample a code, render it, learn to invert it.

Each step draws latents (with style mixing, so the codes vary over the rows as projected codes do) and noise
maps from a generator seeded with ``(seed, step)``, renders them with the frozen generator, and fits the
encoder to the codes with three terms (e4e's recipe, with a pixel reconstruction in place of LPIPS and
identity losses, which need published weights): the codes' squared error and the offsets' size, both in
units of the generator's W spread, and the squared pixel error of the encoded code's render. A training is
reproducible bit for bit on one machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import torch
from pydantic import Field

from gan_core.stylegan2 import Generator
from gan_core.w_encoder import EncoderConfig, WEncoder


@dataclass(frozen=True)
class EncoderTrainConfig:
    """How the encoder is trained.

    Attributes:
        steps: optimiser steps; batch: rendered codes per step.
        lr: Adam's learning rate.
        seed: the seed of every draw (latents, mixing, noise maps).
        mixing_prob: the share of codes whose later rows come from a second latent.
        latent_weight, image_weight, delta_weight: the weights of the code error, the render's pixel error
            and the offsets' size.
    """

    steps: Annotated[int, Field(ge=1)] = 1000
    batch: Annotated[int, Field(ge=1)] = 8
    lr: Annotated[float, Field(gt=0.0, le=1.0)] = 3e-4
    seed: Annotated[int, Field(ge=0)] = 0
    mixing_prob: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    latent_weight: Annotated[float, Field(ge=0.0)] = 1.0
    image_weight: Annotated[float, Field(ge=0.0)] = 10.0
    delta_weight: Annotated[float, Field(ge=0.0)] = 0.1


@dataclass(frozen=True)
class TwinEncoderConfig:
    """An encoder for a generator: its width (the rest of its shape is the generator's), the mean W's samples
    and the training.

    Attributes:
        channels, max_channels, hidden: as ``EncoderConfig``.
        w_avg_samples: mapped samples for the mean W the encoder is centred on and the W spread of its losses.
        train: the training.
    """

    channels: Annotated[int, Field(ge=1)] = 32
    max_channels: Annotated[int, Field(ge=1)] = 128
    hidden: Annotated[int, Field(ge=1)] = 512
    w_avg_samples: Annotated[int, Field(ge=1)] = 2000
    train: EncoderTrainConfig = EncoderTrainConfig()

    def shape_for(self, generator: Generator) -> EncoderConfig:
        """The encoder's shape for ``generator``."""
        cfg = generator.config
        return EncoderConfig(
            resolution=cfg.resolution,
            n_latent=cfg.n_latent,
            style_dim=cfg.style_dim,
            channels=self.channels,
            max_channels=self.max_channels,
            hidden=self.hidden,
        )


def sample_pairs(
    *, generator: Generator, batch: int, mixing_prob: float, draw: torch.Generator
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """Codes, noise maps and their renders, from ``draw``.

    Returns:
        (``[B, n_latent, D]`` codes, the noise maps ``[B, 1, r, r]`` each, ``[B, 3, R, R]`` renders).
    """
    cfg = generator.config
    device = generator.input.input.device
    z = torch.randn(2, batch, cfg.style_dim, generator=draw).to(device)
    w = generator.mapping(z.flatten(0, 1)).view(2, batch, cfg.style_dim)
    codes = w[0][:, None].repeat(1, cfg.n_latent, 1)
    mixed = torch.rand(batch, generator=draw) < mixing_prob
    cut = torch.randint(1, cfg.n_latent, (batch,), generator=draw)
    later = (torch.arange(cfg.n_latent)[None] >= cut[:, None]) & mixed[:, None]  # [B, n_latent]
    codes = torch.where(later[..., None].to(device), w[1][:, None], codes)
    noises = [torch.randn(batch, 1, *shape, generator=draw).to(device) for shape in cfg.noise_shapes()]
    return codes, noises, generator.synthesis(codes, noises)


def encoder_losses(
    *, encoder: WEncoder, generator: Generator, codes, noises, images, w_std: float, config: EncoderTrainConfig
) -> dict[str, torch.Tensor]:
    """The three terms and their weighted total on one batch (scalars)."""
    predicted, offsets = encoder(images)
    unit = codes.shape[-1] / w_std**2  # a squared error per element, in units of W's spread per vector
    terms = {
        "latent": (predicted - codes).square().mean() * unit,
        "image": (generator.synthesis(predicted, noises) - images).square().mean(),
        "delta": offsets.square().mean() * unit,
    }
    weights = {"latent": config.latent_weight, "image": config.image_weight, "delta": config.delta_weight}
    terms["total"] = sum(weights[k] * terms[k] for k in weights)
    return terms


def train_encoder(
    *,
    encoder: WEncoder,
    generator: Generator,
    w_std: float,
    config: EncoderTrainConfig,
    steps: int | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Fit ``encoder`` to invert ``generator`` (in place; left in eval mode).

    Args:
        encoder: a fresh encoder (``encoder_for``) for this generator.
        generator: the frozen generator.
        w_std: the RMS spread of its W (``mean_w``).
        config: the training.
        steps: stop after this many (a check of the first steps); None: ``config.steps``.
        on_step: called with (step, losses) after every step.

    Returns:
        Every step's losses (``total``, ``latent``, ``image``, ``delta``).
    """
    generator.requires_grad_(False)
    adam = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    history = []
    encoder.train()
    for step in range(config.steps if steps is None else steps):
        draw = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        with torch.no_grad():
            codes, noises, images = sample_pairs(
                generator=generator, batch=config.batch, mixing_prob=config.mixing_prob, draw=draw
            )
        terms = encoder_losses(
            encoder=encoder, generator=generator, codes=codes, noises=noises, images=images, w_std=w_std, config=config
        )
        adam.zero_grad(set_to_none=True)
        terms["total"].backward()
        adam.step()
        history.append({k: float(v.detach()) for k, v in terms.items()})
        if on_step is not None:
            on_step(step + 1, history[-1])
    encoder.eval()
    return history
