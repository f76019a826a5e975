"""What several commands share: the default store, ``NAME=HEX`` digests, download progress lines."""

from __future__ import annotations

import os
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


def parse_int(value: str | None, *, option: str, minimum: int | None = None) -> int | None:
    """A whole-number option given as text (None stays None); ConfigError naming the option when it is not one.

    Args:
        value: the option's text, or None when not given.
        option: its name, for the message (``--seed``).
        minimum: the smallest value allowed, if any.

    Returns:
        The number, or None.
    """
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{option} {value!r}: expected a whole number") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{option} {number}: expected {minimum} or more")
    return number


def parse_fraction(value: str | None, *, option: str) -> float | None:
    """A number in (0, 1] given as text (None stays None); ConfigError naming the option otherwise.

    Args:
        value: the option's text, or None when not given.
        option: its name, for the message (``--smooth``).

    Returns:
        The number, or None.
    """
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        number = float("nan")
    if not 0.0 < number <= 1.0:  # also refuses NaN
        raise ConfigError(f"{option} {value!r}: expected a number above 0 and at most 1")
    return number


def existing_store(store: str):
    """The store at ``store`` opened read-only (``kit.store.Store.open_existing``): nothing is created.

    Args:
        store: the ``--store`` path or URL.

    Returns:
        The ``kit.store.Store``.

    Raises:
        ConfigError: a local path with no store folder (one line naming ``--store``).
    """
    from kit.store import Store

    try:
        return Store.open_existing(store)
    except OSError as error:
        raise ConfigError(f"--store {error}") from None


def check_out_folder(out: Path, *, option: str = "--out") -> None:
    """Refuse, before any work and creating nothing, an output folder that cannot be one.

    Args:
        out: the folder (it may not exist yet; it is made later, when the work writes).
        option: the option's name, for the message.

    Raises:
        ConfigError: ``out`` is a file or a broken link, lies under a file, or its nearest existing folder cannot
            be written (permissions; root writes anyway).
    """
    if out.is_symlink() and not out.exists():
        raise ConfigError(f"{option} {out}: a broken link, not a folder")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out}: a file, not a folder")
    nearest = next(p for p in (Path(os.path.abspath(out)), *Path(os.path.abspath(out)).parents) if p.exists())
    if not nearest.is_dir():
        raise ConfigError(f"{option} {out}: {nearest} is a file, not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {out}: cannot write in {nearest} (permission denied)")


def refuse_replacing(paths: list[Path], *, force: bool, option: str = "--out") -> None:
    """Refuse, before any work, to replace output files that exist already, unless ``--force``.

    Args:
        paths: every file the command would write.
        force: the user asked to replace them.
        option: the output option, named in the message.

    Raises:
        ConfigError: one of ``paths`` exists (without ``force``), or is a folder or lies under a file (even
            with it: nothing could replace them).
    """
    for path in paths:
        blocked = next((p for p in path.parents if p.exists()), None)
        if path.is_dir() or (blocked is not None and not blocked.is_dir()):
            where = path if path.is_dir() else blocked
            raise ConfigError(
                f"{option}: cannot write {path}: {where} is in the way ({'a folder' if path.is_dir() else 'a file'})"
            )
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        more = f" and {len(existing) - 1} other file(s)" if len(existing) > 1 else ""
        raise ConfigError(f"{option}: {existing[0]}{more} would be replaced; give --force to replace them")
