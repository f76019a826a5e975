"""The inputs of ``eltrepro predict`` and ``compare``, and the names of what each one writes.

Inputs (``find_inputs``): files as named (any name; the content decides), folders as every file below them. A
file in a folder whose suffix is no photo or video's, a broken link, a link loop, a link to a folder, something
that is not a regular file (a pipe, a device) and a file named twice are each a row of ``skipped.csv`` with the
reason. A link to a regular file is followed wherever it points (inside the folder or outside it: the user put
it there, and reads it with their own rights); a link to a folder is not, so a walk never loops or repeats.

Outputs are named per input so that none replaces another: an input's name is its path relative to the folder
that holds every input (``output_names``), its suffix kept, and it writes ``<name>.csv`` and ``<name>.json``
(one row per face: ``frame``, ``face``, the box and ``x0, y0, ... x97, y97``) and ``<name>.overlay.jpg`` (or
``.overlay.mp4`` for a video) under the output folder, in the inputs' own folder structure: ``a/x.jpg`` and
``b/x.jpg`` write ``a/x.jpg.csv`` and ``b/x.jpg.csv``, ``x.jpg`` and ``x.png`` ``x.jpg.csv`` and ``x.png.csv``.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

# Suffixes a folder's photos have: the formats whose size is read before decoding (landmark_core.image_size).
IMAGES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".gif", ".pbm", ".pgm", ".ppm")
IMAGES += (".pnm", ".sr", ".ras", ".jp2", ".avif")
VIDEOS = (".mp4", ".avi", ".mov", ".mkv", ".webm")


@dataclass(frozen=True)
class FoundInputs:
    """What ``find_inputs`` made of the paths a user named.

    Attributes:
        files: the photos and videos to process, each once, in the order named (folders sorted).
        skipped: rows of ``skipped.csv`` (``input``, ``frame``, ``reason``) for everything else named or found.
    """

    files: list[Path]
    skipped: list[dict]


def find_inputs(paths: list[Path], *, exclude: Path | None = None) -> FoundInputs:
    """Every file the user named, and every file below a named folder, as an input or a skipped row.

    Args:
        paths: files and folders as named (a named link is followed, also to a folder).
        exclude: a folder not to read (the output folder, when it lies inside a named one).

    Returns:
        The inputs and the skipped rows (see the module's notes on links, suffixes and repeats).
    """
    files: list[Path] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    skip_dir = os.path.abspath(exclude) if exclude is not None else None
    for path in paths:
        problem = _link_problem(path) or (None if path.exists() else "no such file or folder")
        if problem:
            skipped.append(skip_row(path, problem))
        elif path.is_dir():
            _walk(path, files, skipped, skip_dir)
        elif path.is_file():
            files.append(path)
        else:
            skipped.append(skip_row(path, "not a regular file"))
    unique = []
    for path in files:
        key = os.path.abspath(path)
        if key in seen:
            skipped.append(skip_row(path, "named twice (processed once)"))
        else:
            seen.add(key)
            unique.append(path)
    return FoundInputs(files=unique, skipped=skipped)


def skip_row(path: Path, reason: str, frame: int | str = "") -> dict:
    """A row of ``skipped.csv``: the input, the frame (videos) and why it was not processed."""
    return {"input": str(path), "frame": frame, "reason": reason}


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be read (dangling, a loop), or None (not a link, or a good one)."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except FileNotFoundError:
        return f"broken link (its target {os.readlink(path)} does not exist)"
    except OSError as error:  # ELOOP, or a target one cannot reach
        return "link loop" if error.errno == errno.ELOOP else f"unreadable link ({error.strerror})"
    return None


def _walk(folder: Path, files: list[Path], skipped: list[dict], skip_dir: str | None) -> None:
    """Files below ``folder`` (sorted, not into linked folders) into ``files``, the rest into ``skipped``."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        skipped.append(skip_row(folder, f"cannot list the folder ({error.strerror})"))
        return
    for entry in entries:
        problem = _link_problem(entry)
        if problem:
            skipped.append(skip_row(entry, problem))
        elif entry.is_dir():
            if entry.is_symlink():
                skipped.append(skip_row(entry, "link to a folder (not followed; name the folder itself)"))
            elif skip_dir is not None and os.path.abspath(entry) == skip_dir:
                skipped.append(skip_row(entry, "the output folder (not read)"))
            else:
                _walk(entry, files, skipped, skip_dir)
        elif not entry.is_file():
            skipped.append(skip_row(entry, "not a regular file"))
        elif entry.suffix.lower() in IMAGES + VIDEOS:
            files.append(entry)
        else:
            skipped.append(skip_row(entry, f"not a photo or video ({entry.suffix or 'no suffix'})"))


def output_names(inputs: list[Path]) -> dict[Path, str]:
    """Each input's output name: its path relative to the folder holding every input, suffix kept (POSIX).

    Distinct inputs (by absolute path) get distinct names, and no name is ``skipped`` (``skipped.csv`` is the
    skipped list's): such an input is named ``skipped.input``.
    """
    if not inputs:
        return {}
    absolute = [os.path.abspath(p) for p in inputs]
    root = os.path.commonpath([os.path.dirname(a) for a in absolute])
    names = {}
    for path, full in zip(inputs, absolute, strict=True):
        name = Path(os.path.relpath(full, root)).as_posix()
        names[path] = "skipped.input" if name == "skipped" else name
    return names


def output_files(inputs: list[Path], out: Path) -> list[Path]:
    """Every file ``predict_inputs`` would write for ``inputs`` under ``out`` (to refuse replacing them)."""
    planned = [out / "skipped.csv"]
    for path, name in output_names(inputs).items():
        overlay = ".overlay.mp4" if path.suffix.lower() in VIDEOS else ".overlay.jpg"
        planned += [out / f"{name}{ending}" for ending in (".csv", ".json", overlay)]
    return planned
