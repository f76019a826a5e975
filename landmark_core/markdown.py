"""GitHub-flavoured Markdown tables from data frames (no extra dependency)."""

from __future__ import annotations

import pandas as pd


def _cell(value: object, na_rep: str) -> str:
    if pd.isna(value):
        return na_rep
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(table: pd.DataFrame, *, header: list[str] | None = None, na_rep: str = "") -> list[str]:
    """The lines of a Markdown table: the index as the first column, floats to 3 decimals, others as text.

    Args:
        table: the frame to render.
        header: column titles including the index's (default: the index name, then the column names).
        na_rep: text of a missing value.
    """
    header = header or [str(table.index.name or ""), *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, values in table.iterrows():
        lines.append("| " + " | ".join([str(name), *(_cell(v, na_rep) for v in values)]) + " |")
    return lines
