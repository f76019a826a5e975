"""The twin GAN: a small StyleGAN2 trained on FFHQ-aligned twin faces, resumable, its files described.

A training lives in one folder: ``config.json`` (every setting), ``state.pt`` (the checkpoint, written every
``checkpoint_every`` steps and at the end), ``losses.csv`` (one row per step) and, when it has finished,
``generator.pt`` (the EMA generator's weights alone: what projection and the lighting flow load). Started again
on the same folder with the same settings, it goes on from its checkpoint; with other settings it is refused.
Training faces are the portraits of seeds ``first_seed .. first_seed + count - 1``; ``HELD_OUT_SEED`` and up
are never trained on, so a benchmark can take its faces there.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import torch
from pydantic import Field

from gan_core.gan_checkpoint import load_state, save_state
from gan_core.gan_train import GanState, StepLosses, new_state, train_step
from gan_core.gan_train_config import DiscriminatorConfig, GanTrainConfig
from gan_core.strict import load_strict
from gan_core.stylegan2 import Generator
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.twin_faces import TwinFaceBank
from landmark_core.atomic import atomic_write_text
from landmark_core.config import from_json, to_dict

HELD_OUT_SEED = 1_000_000  # portraits from this seed up are never training faces
CHECKED_STEPS = 4  # the first steps whose losses a manifest records, for a test to compute again


@dataclass(frozen=True)
class TwinFacesConfig:
    """Which portraits train the GAN.

    Attributes:
        count: how many faces (seeds ``first_seed`` and on).
        first_seed: the first portrait's seed; the last must stay below ``HELD_OUT_SEED``.
        photo_side: side of each portrait before alignment.
    """

    count: Annotated[int, Field(ge=1)] = 10_000
    first_seed: Annotated[int, Field(ge=0)] = 0
    photo_side: Annotated[int, Field(ge=64)] = 256

    def __post_init__(self) -> None:
        if self.first_seed + self.count > HELD_OUT_SEED:
            raise ValueError(f"training seeds must stay below {HELD_OUT_SEED} (held-out faces start there)")


@dataclass(frozen=True)
class TwinGanConfig:
    """Everything that makes a twin GAN: the networks' shapes, the faces and the training."""

    generator: GeneratorConfig = field(
        default_factory=lambda: GeneratorConfig(
            resolution=64, style_dim=128, n_mlp=4, channel_base=2048, channel_max=64, lr_mlp=0.01
        )
    )
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(resolution=64, channel_base=2048, channel_max=64)
    )
    faces: TwinFacesConfig = field(default_factory=TwinFacesConfig)
    train: GanTrainConfig = field(default_factory=lambda: GanTrainConfig(steps=6000, batch=16, r1_gamma=0.1))

    def __post_init__(self) -> None:
        if self.discriminator.resolution != self.generator.resolution:
            raise ValueError(
                f"the discriminator sees {self.discriminator.resolution} px, the generator makes "
                f"{self.generator.resolution} px"
            )
        if self.train.batch % min(self.discriminator.mbstd_group, self.train.batch):
            raise ValueError(f"train.batch {self.train.batch} is not a multiple of discriminator.mbstd_group")


def training_faces(*, config: TwinGanConfig) -> TwinFaceBank:
    """The training faces (portraits ``first_seed`` and on, aligned at the generator's resolution), not rendered
    yet: ``render_all()`` draws them, or a batch draws the faces it needs."""
    faces = config.faces
    seeds = range(faces.first_seed, faces.first_seed + faces.count)
    return TwinFaceBank(seeds=seeds, resolution=config.generator.resolution, photo_side=faces.photo_side)


def start_or_resume(*, config: TwinGanConfig, folder: Path) -> GanState:
    """A fresh state, or the checkpoint of the same training in ``folder``.

    Raises:
        ValueError: ``folder`` holds a training with other settings than ``config`` (the step count may differ).
    """
    saved = folder / "config.json"
    if saved.is_file() and _without_steps(json.loads(saved.read_text())) != _without_steps(to_dict(config)):
        raise ValueError(f"{folder} holds a training with other settings; use another folder")
    state = new_state(generator_config=config.generator, discriminator_config=config.discriminator, config=config.train)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, json.dumps(to_dict(config), indent=2, sort_keys=True))
    if (folder / "state.pt").is_file():
        load_state(state=state, path=folder / "state.pt")
    return state


def _without_steps(settings: dict) -> dict:
    """The settings but the step count: a training may be continued to more steps (each step's draws depend on
    the seed and the step alone, so going on equals having asked for more steps at first)."""
    return settings | {"train": {k: v for k, v in settings["train"].items() if k != "steps"}}


def train_twin_gan(
    *,
    config: TwinGanConfig,
    folder: Path,
    checkpoint_every: int = 200,
    on_step: Callable[[StepLosses], None] | None = None,
) -> GanState:
    """Train (or go on training) the twin GAN of ``config`` in ``folder`` to ``config.train.steps`` steps.

    Args:
        config: the networks, faces and training settings.
        folder: the training's folder (created; a checkpoint there is resumed).
        checkpoint_every: steps between checkpoints.
        on_step: called with each step's losses.

    Returns:
        The finished state; ``generator.pt`` holds its EMA generator, ``state.seconds`` the training's time over
        every start (rendering the faces included).
    """
    state = start_or_resume(config=config, folder=folder)
    if state.step < config.train.steps:
        started, before = time.monotonic(), state.seconds
        images = training_faces(config=config).render_all()
        while state.step < config.train.steps:
            losses = train_step(state=state, images=images, config=config.train)
            state.seconds = before + time.monotonic() - started
            if on_step is not None:
                on_step(losses)
            if state.step % checkpoint_every == 0 or state.step == config.train.steps:
                save_state(state=state, path=folder / "state.pt")
    _write_losses(state.losses, folder / "losses.csv")
    partial = folder / ".generator.pt.partial"
    torch.save(state.generator_ema.state_dict(), partial)
    partial.replace(folder / "generator.pt")
    return state


def _write_losses(losses: list[StepLosses], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["step", "generator", "discriminator", "r1"])
        writer.writerows([s.step, s.generator, s.discriminator, "" if s.r1 is None else s.r1] for s in losses)


def load_twin_generator(*, folder: Path) -> Generator:
    """The EMA generator a finished training left in ``folder``, loaded strictly (weights only, every key).

    Raises:
        gan_core.strict.WeightsMismatchError: ``generator.pt`` does not fit ``config.json``'s generator.
    """
    config = from_json(TwinGanConfig, (folder / "config.json").read_text(), where=str(folder / "config.json"))
    generator = Generator(config.generator).eval().requires_grad_(False)
    state = torch.load(folder / "generator.pt", map_location="cpu", weights_only=True)
    load_strict(generator, state, source=str(folder / "generator.pt"))
    return generator


def replay_first_steps(*, config: TwinGanConfig, steps: int) -> list[StepLosses]:
    """The losses of a training's first ``steps`` steps, computed again from its seed with only the faces those
    steps draw: what a test compares with the losses a committed model's manifest recorded.

    Returns:
        One ``StepLosses`` per step, as the full training computed them (bit for bit with the same thread count).
    """
    state = new_state(generator_config=config.generator, discriminator_config=config.discriminator, config=config.train)
    faces = training_faces(config=config)
    return [train_step(state=state, images=faces, config=config.train) for _ in range(steps)]


def final_losses(*, state: GanState, window: int = 100) -> dict[str, float]:
    """The generator's and discriminator's losses averaged over the last ``window`` steps (one step is noisy)."""
    last = state.losses[-window:]
    if not last:
        return {}
    return {
        "generator": sum(s.generator for s in last) / len(last),
        "discriminator": sum(s.discriminator for s in last) / len(last),
    }
