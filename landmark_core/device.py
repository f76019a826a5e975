"""Device names: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:<n>``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from landmark_core.config import ConfigError

if TYPE_CHECKING:
    import torch

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(name: str) -> str:
    """``name`` when it is a device name this project runs on; ConfigError naming the choices otherwise."""
    if not DEVICE_PATTERN.fullmatch(name):
        raise ConfigError(f"device {name!r} is not one of auto, cpu, cuda, cuda:<n>")
    return name


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else CPU; ``cpu``/``cuda[:n]`` are taken as given.

    Raises:
        ConfigError: ``name`` is not a device name (see ``check_device``), or CUDA is asked for and absent.
    """
    import torch  # here, so that checking a name needs no torch

    if check_device(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: no CUDA device on this machine (use auto or cpu)")
    return torch.device(name)
