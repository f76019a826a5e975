"""The bytes of a stage output, for tests that compare outputs made in different ways."""

from __future__ import annotations

from kit.store import STAGE_JSON, StageOutput


def output_bytes(output: StageOutput) -> dict[str, bytes]:
    """Every file of ``output`` but ``stage.json`` (which holds timings and hosts), by path relative to it."""
    folder = output.local_dir()
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and path.name != STAGE_JSON
    }
