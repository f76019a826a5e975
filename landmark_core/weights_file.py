"""Reading a torch weights file (checkpoint, published weights) so that no file can run code.

Every ``.pt``/``.pth`` the project reads goes through ``load_weights_file``: ``torch.load(weights_only=True)``
(tensors, containers, numbers and strings only; a pickle that names any other global is refused), and every
way the file can be wrong is one ``WeightsFileError`` naming the file and what is wrong with it: it would run
code, it is cut short, or it is not a torch file at all. Nothing else in the project calls ``torch.load``.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

ZIP_MAGIC = b"PK\x03\x04"  # torch's format since 1.6 is a zip archive
PICKLE_MAGIC = b"\x80"  # torch's legacy (non-zip) format is a pickle, which opens with the PROTO opcode


class WeightsFileError(ValueError):
    """A weights file that cannot be read safely; the message names the file and the reason."""


def load_weights_file(path: Path, *, what: str, map_location: torch.device | str = "cpu") -> Any:
    """The plain content of a torch file (nested dicts/lists of tensors, numbers, strings).

    Args:
        path: the file.
        what: what the file should be (``"checkpoint"``, ``"DPR weights"``...), for the message.
        map_location: where tensors are put.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: no such file.
        WeightsFileError: the file would run code, is truncated, or is not a torch file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file")
    if path.stat().st_size == 0:
        raise WeightsFileError(f"{path}: the {what} file is empty")
    with path.open("rb") as handle:
        head = handle.read(16)
    if not head.startswith((ZIP_MAGIC, PICKLE_MAGIC)):
        raise WeightsFileError(f"{path}: not a torch file, so not a {what} (it starts with {head!r})")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _first_line(exc)
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it holds objects other than tensors and plain data, which could run code"
        raise WeightsFileError(f"{path}: refused as a {what}: {reason}") from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError, MemoryError, OverflowError) as exc:
        raise WeightsFileError(f"{path}: not a readable {what} (truncated or corrupt: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
