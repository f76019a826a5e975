"""What several commands share: the default store, ``NAME=HEX`` digests, download progress lines."""

from __future__ import annotations

import re
import time
from pathlib import Path

from elt_cli.console import console
from landmark_core.config import ConfigError

DEFAULT_STORE = Path("artifacts")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_digests(items: list[str], *, option: str = "--sha256") -> dict[str, str]:
    """``NAME=HEX`` items as a dict; ConfigError naming the item when one is malformed."""
    digests = {}
    for item in items:
        name, sep, digest = item.partition("=")
        if not sep or not name or not HEX64.fullmatch(digest):
            raise ConfigError(f"{option} {item!r}: expected NAME=HEX with a 64-digit hex sha256")
        digests[name] = digest.lower()
    return digests


def progress_printer():
    """A download progress callback that prints each file's megabytes at most every 2 s."""
    last: dict[str, float] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if time.monotonic() - last.get(name, 0.0) > 2.0:
            last[name] = time.monotonic()
            console.print(f"  {name}: {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""))

    return progress
