"""Every stage of the study, by name: the ones the CLI lists and runs and a GPU-pool worker runs by name."""

from __future__ import annotations

from kit.stage import Stage, stages_in


def all_stages() -> dict[str, Stage]:
    """Every stage declared in the ``tasks`` package, by name (imports every module of the package)."""
    return stages_in("tasks")
