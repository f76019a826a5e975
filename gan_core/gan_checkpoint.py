"""A StyleGAN2 training's state on disk: the three networks, both optimisers, the step and the losses so far.

Saved as tensors and plain numbers only, and read back with ``torch.load(weights_only=True)`` and strict
state-dict loading, so a checkpoint can run no code and a file of another shape is refused naming its keys.
The networks' shapes and the settings are not in the file: the caller rebuilds the state with ``new_state``
from the same configs (saved beside it as JSON) and loads the file into it.
"""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import torch

from gan_core.gan_train import GanState, StepLosses
from gan_core.strict import load_strict

LOSS_COLUMNS = ("step", "generator", "discriminator", "r1")


def save_state(*, state: GanState, path: Path) -> None:
    """Write ``state`` to ``path`` (through a temporary file, so a crash leaves the previous checkpoint whole)."""
    losses = torch.tensor([[v if v is not None else float("nan") for v in astuple(s)] for s in state.losses])
    payload = {
        "generator": state.generator.state_dict(),
        "generator_ema": state.generator_ema.state_dict(),
        "discriminator": state.discriminator.state_dict(),
        "g_optim": state.g_optim.state_dict(),
        "d_optim": state.d_optim.state_dict(),
        "step": state.step,
        "seconds": state.seconds,
        "losses": losses.reshape(-1, len(LOSS_COLUMNS)).double(),
    }
    partial = path.with_name(f".{path.name}.partial")
    torch.save(payload, partial)
    partial.replace(path)


def load_state(*, state: GanState, path: Path) -> GanState:
    """Fill ``state`` (from ``new_state`` with the training's configs) from the checkpoint at ``path``.

    Raises:
        gan_core.strict.WeightsMismatchError: a network's keys or shapes differ from the file's.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    for name in ("generator", "generator_ema", "discriminator"):
        load_strict(getattr(state, name), payload[name], source=f"{path} [{name}]")
    state.g_optim.load_state_dict(payload["g_optim"])
    state.d_optim.load_state_dict(payload["d_optim"])
    state.step = int(payload["step"])
    state.seconds = float(payload["seconds"])
    state.losses = [
        StepLosses(int(row[0]), float(row[1]), float(row[2]), None if row[3].isnan() else float(row[3]))
        for row in payload["losses"]
    ]
    return state
