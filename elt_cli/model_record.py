"""The provenance a training command writes beside the model it made: ``MANIFEST.toml`` (for the models the
project trains itself and commits; ``landmark_core.model_manifest``)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from elt_cli.console import console


def git_commit() -> str | None:
    """The checkout's commit (``-dirty`` with uncommitted changes), or None outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip()


def record_model(
    *,
    out: Path,
    file: str,
    settings: str,
    command: list[str],
    given: dict[str, object],
    commit: str | None,
    seconds: float,
    losses: dict[str, float],
    first_losses: tuple[dict[str, float], ...],
    inputs: tuple[str, ...] = (),
) -> None:
    """Write ``out/MANIFEST.toml`` for ``out/file``: its digest, the command as run (the given options), the
    settings file, the commit, the time and the losses; outside a git checkout, say why there is none.

    Args:
        out: the training's folder.
        file: the model file's name there; settings: its settings file's name.
        command: the command's words (``["eltrepro", "gan", "train-twin"]``); given: its options, None left out.
        commit: ``git_commit()`` as the training started.
        seconds: the training's time; losses: the final losses; first_losses: the first steps' losses.
        inputs: files in ``out`` that computing the first steps again needs.
    """
    if commit is None:
        console.print("not a git checkout: no MANIFEST.toml written (it names the commit that made the model)")
        return
    from landmark_core.download import sha256_file
    from landmark_core.model_manifest import ModelEntry, write_manifest

    words = [*command, *(f"{k}={v}" for k, v in given.items() if v is not None)]
    entry = ModelEntry(
        file=file,
        sha256=sha256_file(out / file),
        command=shlex.join(words),
        settings=settings,
        commit=commit,
        seconds=round(seconds, 3),
        losses=losses,
        first_losses=first_losses,
        inputs=inputs,
    )
    console.print(f"provenance: {write_manifest(folder=out, entries=[entry])}")
