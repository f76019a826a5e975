"""The study's result tables from per-row metric tables, with the published values beside ours.

Tables 4.1-4.4 give NME, NME99, NME95 and NME90 (percent) of every Table 4.1 row on Full and the six WFLW
subsets; Tables 4.5-4.8 give the same four metrics of the lighting rows on Full, illumination, frontal and
frontal illumination; Table 4.9 gives FR@10 (percent) and AUC@10 of the lighting rows on those subsets. (The
issue fixes which rows and subsets each table holds; this column layout of 4.5-4.9 is our reading.) A study
value, where one is published, sits in a ``<subset> (study)`` column next to ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from landmark_core.markdown import markdown_table

MAIN_SUBSETS: tuple[str, ...] = ("full", "pose", "expression", "illumination", "makeup", "occlusion", "blur")
LIGHT_SUBSETS: tuple[str, ...] = ("full", "illumination", "frontal", "frontal_illumination")


@dataclass(frozen=True)
class TableSpec:
    """Which metric(s), subsets and matrix rows (by the table they are tagged with) one table shows."""

    title: str
    metrics: tuple[str, ...]
    subsets: tuple[str, ...]
    rows_tagged: str


STUDY_TABLES: dict[str, TableSpec] = {
    "4.1": TableSpec("NME %", ("nme",), MAIN_SUBSETS, "4.1"),
    "4.2": TableSpec("NME99 %", ("nme99",), MAIN_SUBSETS, "4.1"),
    "4.3": TableSpec("NME95 %", ("nme95",), MAIN_SUBSETS, "4.1"),
    "4.4": TableSpec("NME90 %", ("nme90",), MAIN_SUBSETS, "4.1"),
    "4.5": TableSpec("Lighting rows, NME %", ("nme",), LIGHT_SUBSETS, "4.5"),
    "4.6": TableSpec("Lighting rows, NME99 %", ("nme99",), LIGHT_SUBSETS, "4.5"),
    "4.7": TableSpec("Lighting rows, NME95 %", ("nme95",), LIGHT_SUBSETS, "4.5"),
    "4.8": TableSpec("Lighting rows, NME90 %", ("nme90",), LIGHT_SUBSETS, "4.5"),
    "4.9": TableSpec("Lighting rows, FR@10 % and AUC@10", ("fr10", "auc10"), LIGHT_SUBSETS, "4.5"),
}


def build_table(
    *,
    spec: TableSpec,
    table_id: str,
    metrics: dict[str, pd.DataFrame],
    tags: dict[str, tuple[str, ...]],
    published: dict[tuple[str, str, str], float],
) -> pd.DataFrame:
    """One study table.

    Args:
        spec: what the table shows.
        table_id: its number ("4.1"), used to look up published values.
        metrics: row name -> ``landmark_core.evaluate.metric_table`` output (index: subsets).
        tags: row name -> the tables the row is tagged with in the matrix.
        published: (table id, row, subset) -> the study's value.

    Returns:
        Index: the rows (matrix order) that are tagged and evaluated; columns ``<subset>`` (or
        ``<metric> <subset>`` when the table has several metrics) and ``<...> (study)`` where published.
    """
    rows = [name for name in metrics if spec.rows_tagged in tags.get(name, ())]
    data: dict[str, list[float]] = {}
    for subset in spec.subsets:
        for metric in spec.metrics:
            column = subset if len(spec.metrics) == 1 else f"{metric} {subset}"
            data[column] = [float(metrics[r].loc[subset, metric]) for r in rows]
            study = [published.get((table_id, r, subset)) for r in rows]
            if len(spec.metrics) == 1 and any(v is not None for v in study):
                data[f"{column} (study)"] = [float("nan") if v is None else v for v in study]
    return pd.DataFrame(data, index=pd.Index(rows, name="row"))


def study_tables(
    *, metrics: dict[str, pd.DataFrame], tags: dict[str, tuple[str, ...]], published: dict[tuple[str, str, str], float]
) -> dict[str, pd.DataFrame]:
    """Every table of STUDY_TABLES that has at least one evaluated row."""
    out = {}
    for table_id, spec in STUDY_TABLES.items():
        table = build_table(spec=spec, table_id=table_id, metrics=metrics, tags=tags, published=published)
        if len(table):
            out[table_id] = table
    return out


def tables_markdown(tables: dict[str, pd.DataFrame], *, beyond_study: frozenset[str] = frozenset()) -> str:
    """All tables as one Markdown document (values to 3 decimals; a missing study value is blank); the rows in
    ``beyond_study`` (rows the study did not have, e.g. the physical relighting's) are labelled so."""
    parts = ["# Results", ""]
    for table_id, table in tables.items():
        parts += [f"## Table {table_id}: {STUDY_TABLES[table_id].title}", ""]
        parts += [*markdown_table(labelled(table, beyond_study), header=["row", *table.columns]), ""]
    return "\n".join(parts)


BEYOND_STUDY = "(beyond the study)"


def labelled(table: pd.DataFrame, beyond_study: frozenset[str]) -> pd.DataFrame:
    """``table`` with each row of ``beyond_study`` labelled ``<row> (beyond the study)``."""
    return table.set_axis([f"{r} {BEYOND_STUDY}" if r in beyond_study else r for r in table.index])
