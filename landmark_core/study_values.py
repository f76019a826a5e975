"""The study's published numbers (``data/study_tables.csv``: all 400 cells of Tables 4.1-4.9), read and checked.

Each cell is one published value: (table, matrix row, subset, metric) -> value, NME family in percent. The
report shows every one of them beside the project's own number for the same cell.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from landmark_core.config import ConfigError

STUDY_VALUES_FILE = Path(__file__).resolve().parent / "data" / "study_tables.csv"
COLUMNS = ("table", "row", "subset", "metric", "value")

Cell = tuple[str, str, str, str]  # (table, row, subset, metric)


def load_study_values(path: Path = STUDY_VALUES_FILE) -> dict[Cell, float]:
    """Every published cell of a ``table,row,subset,metric,value`` file.

    Args:
        path: the CSV (default: the project's copy of the study's tables).

    Returns:
        (table, row, subset, metric) -> value, in file order.

    Raises:
        ConfigError: a missing file, a wrong header, a value that is not a finite number or a cell given twice
            (one line naming the file and the line).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header != COLUMNS:
            raise ConfigError(f"{path}: line 1: expected the header {','.join(COLUMNS)}, got {','.join(header)}")
        cells: dict[Cell, float] = {}
        for line, fields in enumerate(reader, start=2):
            cells.update(_cell(fields, where=f"{path}: line {line}", seen=cells))
    return cells


def _cell(fields: list[str], *, where: str, seen: dict[Cell, float]) -> dict[Cell, float]:
    if len(fields) != len(COLUMNS):
        raise ConfigError(f"{where}: expected {len(COLUMNS)} fields, got {len(fields)}")
    *names, text = (f.strip() for f in fields)
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}: value {text!r} is not finite")
    cell = (names[0], names[1], names[2], names[3])
    if cell in seen:
        raise ConfigError(f"{where}: the cell {','.join(cell)} is given twice")
    return {cell: value}
