"""The trained models of a reproduction: every run a report covers, found by row and seed, and loaded.

A report's ``stage.json`` names each of its runs (run name, matrix row, seed) and the ``train_landmarks`` and
``evaluate_landmarks`` outputs behind it, so the newest report of a store (or one named by key) is the index of
what was trained. A checkpoint file given by path works as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from kit.store import StageOutput, Store
from landmark_core.config import ConfigError


@dataclass(frozen=True)
class TrainedRun:
    """One trained run of a report.

    Attributes:
        name: the run's name in the report (``row`` or ``row-seed<n>``).
        row: its matrix row.
        seed: its seed.
        trained: the ``train_landmarks`` output (``best.pt``).
        evaluated: the ``evaluate_landmarks`` output (its metrics), None when the report has none.
        report: the key of the report it was found in.
    """

    name: str
    row: str
    seed: int
    trained: StageOutput
    evaluated: StageOutput | None
    report: str

    @property
    def checkpoint(self) -> Path:
        """The run's selected checkpoint (the best validation NME)."""
        return self.trained.local_dir() / "best.pt"

    def describe(self) -> dict:
        """Where the model came from and how it scored on the test split (for model cards and pages).

        Returns:
            row, seed, run name, train and report keys, and the test metrics (numbers only; a metric that is not
            finite is None).
        """
        full = self.evaluated.metadata()["info"].get("full", {}) if self.evaluated is not None else {}
        return {
            "row": self.row,
            "seed": self.seed,
            "run": self.name,
            "train_key": self.trained.key,
            "report_key": self.report,
            "test_metrics": {k: _metric(v) for k, v in full.items() if isinstance(v, int | float)},
        }


def _metric(value: float) -> float | None:
    """A metric as a float, None when it is not finite (an evaluation without faces: no "nan" is ever shown)."""
    value = float(value)
    return value if math.isfinite(value) else None


def trained_runs(store: Store, *, report: str | None = None) -> list[TrainedRun]:
    """Every run of the newest report in ``store`` (or of the report ``report``), in the report's order.

    Raises:
        ConfigError: the store has no report, or none with that key.
    """
    reports = store.outputs("report")
    if report is not None:
        reports = [r for r in reports if r.key == report]
    if not reports:
        what = f"no report with key {report}" if report else "no report yet; make one with `eltrepro run`"
        raise ConfigError(f"{store.url}: {what}")
    chosen = reports[0]
    meta = chosen.metadata()
    trainings, evaluations = meta["inputs"]["trainings"], meta["inputs"].get("evaluations", {})
    runs = []
    for name, row, seed in meta["config"]["runs"]:
        trained = store.output(trainings[name]["stage"], trainings[name]["key"])
        evaluated = evaluations.get(name)
        evaluated = store.output(evaluated["stage"], evaluated["key"]) if evaluated else None
        runs.append(
            TrainedRun(name=name, row=row, seed=int(seed), trained=trained, evaluated=evaluated, report=chosen.key)
        )
    return runs


def find_run(store: Store, *, row: str, seed: int | None = None, report: str | None = None) -> TrainedRun:
    """The run of ``row`` (and ``seed``; the row's lowest seed when None).

    Raises:
        ConfigError: no such row or seed in the report (the line lists what there is).
    """
    runs = trained_runs(store, report=report)
    of_row = sorted((r for r in runs if r.row == row), key=lambda r: r.seed)
    if not of_row:
        known = ", ".join(sorted({r.row for r in runs}))
        raise ConfigError(f"--row {row!r}: not in the report {runs[0].report} (rows: {known})")
    if seed is None:
        return of_row[0]
    for run in of_row:
        if run.seed == seed:
            return run
    seeds = ", ".join(str(r.seed) for r in of_row)
    raise ConfigError(f"--seed {seed}: row {row!r} has seeds {seeds} in the report {runs[0].report}")
