"""``MANIFEST.toml``: the provenance of the small models the project trains itself and commits.

Each committed model file has one ``[[model]]`` table beside it: the file, its sha256, the exact command and
settings file that made it, the commit of the code, the training time and the final losses. A file is read
only through ``verified_path``, which refuses a file whose digest is not the manifest's (one line naming the
file and both digests), so what is loaded is what the manifest describes.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import Field

from landmark_core.atomic import atomic_write_text
from landmark_core.config import ConfigError, from_dict
from landmark_core.download import sha256_file

MANIFEST = "MANIFEST.toml"
MAX_BYTES = 16 * 1024 * 1024  # a committed model stays small


@dataclass(frozen=True)
class ModelEntry:
    """One committed model file.

    Attributes:
        file: its name, in the manifest's folder.
        sha256: its digest (hex).
        command: the command line that made it, as run from the repository's root.
        settings: the settings file it was made with (in the same folder, committed too).
        commit: the git commit of the code that made it (``-dirty`` when the checkout had uncommitted changes).
        seconds: the training's wall time.
        losses: the final losses by name.
        first_losses: the losses of the training's first steps, one table per step: a test computes them again
            from the seed, so the file provably comes from the code and settings named here.
        inputs: files the training read that computing those steps again needs (in the same folder, committed
            too; the flow's measured conditions, which need weights that are never committed).
    """

    file: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    command: str
    settings: str
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{7,40}(-dirty)?$")]
    seconds: Annotated[float, Field(ge=0.0)]
    losses: dict[str, float] = field(default_factory=dict)
    first_losses: tuple[dict[str, float], ...] = ()
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """The ``[[model]]`` tables of a ``MANIFEST.toml``."""

    model: tuple[ModelEntry, ...] = ()


def read_manifest(folder: Path) -> dict[str, ModelEntry]:
    """The entries of ``folder/MANIFEST.toml`` by file name.

    Raises:
        ConfigError: no manifest, bad TOML, a bad value, or a file listed twice (one line naming the file).
    """
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    entries = from_dict(Manifest, data, where=str(path)).model
    names = [e.file for e in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{path}: {', '.join(twice)} listed more than once")
    return {e.file: e for e in entries}


def verified_path(*, folder: Path, name: str) -> Path:
    """``folder/name``, after checking it is in the manifest, at most 16 MiB, and has the manifest's sha256.

    Raises:
        ConfigError: not listed, missing, too large, or another digest (one line naming the file).
    """
    entries = read_manifest(folder)
    if name not in entries:
        raise ConfigError(f"{folder / MANIFEST}: no entry for {name}")
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (listed in {MANIFEST})")
    if path.stat().st_size > MAX_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size} bytes, more than a committed model may have (16 MiB)")
    digest = sha256_file(path)
    if digest != entries[name].sha256:
        raise ConfigError(f"{path}: sha256 {digest}, but {MANIFEST} says {entries[name].sha256}")
    return path


def _inline_table(values: dict[str, float]) -> str:
    inner = ", ".join(f"{json.dumps(k)} = {v!r}" for k, v in values.items())
    return f"{{ {inner} }}" if inner else "{}"


def write_manifest(*, folder: Path, entries: list[ModelEntry]) -> Path:
    """Write ``folder/MANIFEST.toml`` with ``entries`` (in their order); returns its path."""
    tables = []
    for entry in entries:
        lines = ["[[model]]"]
        for key in ("file", "sha256", "command", "settings", "commit"):
            lines.append(f"{key} = {json.dumps(getattr(entry, key))}")
        lines.append(f"seconds = {entry.seconds!r}")
        lines.append(f"losses = {_inline_table(entry.losses)}")
        if entry.first_losses:
            lines.append(f"first_losses = [{', '.join(_inline_table(step) for step in entry.first_losses)}]")
        if entry.inputs:
            lines.append(f"inputs = {json.dumps(list(entry.inputs))}")
        tables.append("\n".join(lines))
    path = folder / MANIFEST
    atomic_write_text(path, "\n\n".join(tables) + "\n")
    read_manifest(folder)  # what was written reads back
    return path


def collect_models(*, into: Path, sources: list[Path]) -> list[str]:
    """Copy every model listed in each source folder's manifest, with its settings and input files, into ``into``, and
    merge the entries into ``into``'s manifest (an entry of the same file is replaced; others are kept).

    Each file is copied only after its digest matched its manifest, so the merged manifest still describes it.

    Returns:
        The names of the files copied.

    Raises:
        ConfigError: a source without a manifest, or a listed file missing or with another digest.
    """
    entries = read_manifest(into) if (into / MANIFEST).is_file() else {}
    copied = []
    into.mkdir(parents=True, exist_ok=True)
    for source in sources:
        for name, entry in read_manifest(source).items():
            shutil.copyfile(verified_path(folder=source, name=name), into / name)
            for companion in (entry.settings, *entry.inputs):
                shutil.copyfile(source / companion, into / companion)
            entries[name] = entry
            copied.append(name)
    write_manifest(folder=into, entries=list(entries.values()))
    return copied
