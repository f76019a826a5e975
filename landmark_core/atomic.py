"""Write a file so that readers see either the old file or the complete new one, never a torn one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a hidden temporary sibling of ``path``, then rename it into place.

    The temporary name carries the process id, so concurrent writers never share one; if ``write`` raises, the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """``atomic_write`` for a text file."""
    atomic_write(path, lambda tmp: tmp.write_text(text))
