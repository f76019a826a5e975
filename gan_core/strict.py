"""Strict weight loading: every tensor of a file has its place in the module and every module tensor is filled."""

from __future__ import annotations

import torch
from torch import nn


class WeightsMismatchError(ValueError):
    """The file's tensors and the module's do not correspond one to one."""


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], *, source: str = "") -> None:
    """``load_state_dict`` that reports every missing, unexpected and mis-shaped key at once.

    Raises:
        WeightsMismatchError: naming ``source`` and the first keys of each kind, with their counts.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(
        f"{k}: file {tuple(state[k].shape)} vs module {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if tuple(state[k].shape) != tuple(own[k].shape)
    )
    if missing or unexpected or shapes:
        where = f"{source}: " if source else ""
        raise WeightsMismatchError(
            f"{where}missing {missing[:8]} ({len(missing)}), unexpected {unexpected[:8]} "
            f"({len(unexpected)}), shape mismatches {shapes[:8]} ({len(shapes)})"
        )
    module.load_state_dict(state, strict=True)
