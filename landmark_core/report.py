"""The study's result tables in the study's layout, every published number beside ours, and the comparisons.

Tables 4.1-4.4: NME, NME99, NME95, NME90 (percent) of the ten ELT rows (matrix rows tagged "4.1") on Full and
the six WFLW subsets; Tables 4.5-4.8: the same four metrics of the four lighting rows (tagged "4.5"); Table 4.9:
NME of the lighting rows on the frontal and frontal-illumination subsets. A table lists the study's rows in the
study's order (every published cell, ours blank where the row did not run), then our evaluated rows tagged for it
that the study did not have (e.g. the physical relighting's); each cell holds our
mean over seeds (± the standard deviation with two or more seeds), the study's value, and ours minus the study's.

Beyond the study: FR@10 and AUC@10 of every row and subset, and each row's paired NME difference against its
control with a bootstrap interval (``landmark_core.statistics``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from landmark_core.evaluate import metric_table
from landmark_core.markdown import markdown_table
from landmark_core.statistics import Interval, mean_std, paired_bootstrap
from landmark_core.study_values import Cell

MAIN_SUBSETS: tuple[str, ...] = ("full", "pose", "expression", "illumination", "makeup", "occlusion", "blur")
FRONTAL_SUBSETS: tuple[str, ...] = ("frontal", "frontal_illumination")
ALL_SUBSETS: tuple[str, ...] = (*MAIN_SUBSETS, *FRONTAL_SUBSETS)
SUMMARY_METRICS: tuple[str, ...] = ("nme", "nme99", "nme95", "nme90", "fr10", "auc10")
BEYOND_STUDY = "(beyond the study)"


@dataclass(frozen=True)
class TableSpec:
    """One study table: its title, metric, subsets (columns) and the matrix tag of its rows."""

    title: str
    metric: str
    subsets: tuple[str, ...]
    rows_tagged: str


STUDY_TABLES: dict[str, TableSpec] = {
    "4.1": TableSpec("NME (%) of the ELT rows", "nme", MAIN_SUBSETS, "4.1"),
    "4.2": TableSpec("NME99 (%) of the ELT rows", "nme99", MAIN_SUBSETS, "4.1"),
    "4.3": TableSpec("NME95 (%) of the ELT rows", "nme95", MAIN_SUBSETS, "4.1"),
    "4.4": TableSpec("NME90 (%) of the ELT rows", "nme90", MAIN_SUBSETS, "4.1"),
    "4.5": TableSpec("NME (%) of the lighting rows", "nme", MAIN_SUBSETS, "4.5"),
    "4.6": TableSpec("NME99 (%) of the lighting rows", "nme99", MAIN_SUBSETS, "4.5"),
    "4.7": TableSpec("NME95 (%) of the lighting rows", "nme95", MAIN_SUBSETS, "4.5"),
    "4.8": TableSpec("NME90 (%) of the lighting rows", "nme90", MAIN_SUBSETS, "4.5"),
    "4.9": TableSpec("NME (%) of the lighting rows on frontal faces", "nme", FRONTAL_SUBSETS, "4.5"),
}
CELL_LEGEND = "Each cell: ours (mean ± std over seeds) / the study's (ours − study); — where a side has no value."


def row_summary(*, per_seed: Mapping[str, list[pd.DataFrame]]) -> pd.DataFrame:
    """Each row's metrics over its seeds.

    Args:
        per_seed: row -> one evaluation manifest per seed (``landmark_core.evaluate.evaluate_faces`` output).

    Returns:
        Long form, one line per (row, subset, metric): ``mean``, ``std`` (NaN with one seed), ``seeds``,
        ``faces``.
    """
    lines = []
    for row, manifests in per_seed.items():
        tables = [metric_table(per_face=m, subsets=ALL_SUBSETS) for m in manifests]
        for subset in ALL_SUBSETS:
            for metric in SUMMARY_METRICS:
                mean, std = mean_std(np.array([float(t.loc[subset, metric]) for t in tables]))
                faces = int(tables[0].loc[subset, "faces"])
                lines.append((row, subset, metric, mean, std, len(tables), faces))
    return pd.DataFrame(lines, columns=["row", "subset", "metric", "mean", "std", "seeds", "faces"])


def study_cells(
    *, summary: pd.DataFrame, tags: Mapping[str, tuple[str, ...]], study: Mapping[Cell, float]
) -> pd.DataFrame:
    """Every cell of Tables 4.1-4.9: ours beside the study's.

    Args:
        summary: ``row_summary`` output.
        tags: row -> the tables it is tagged with (in matrix order: the tables list rows in this order).
        study: the published cells (``landmark_core.study_values.load_study_values``).

    Returns:
        Long form, one line per (table, row, subset): ``metric``, ``ours``, ``std``, ``seeds``, ``study``,
        ``delta`` (ours - study; NaN where either is missing). The rows of a table are the study's, in its
        order, then our tagged, evaluated rows the study did not have.
    """
    ours = summary.set_index(["row", "subset", "metric"])
    lines = []
    for table_id, spec in STUDY_TABLES.items():
        for row in table_rows(table_id=table_id, evaluated=set(summary["row"]), tags=tags, study=study):
            for subset in spec.subsets:
                key = (row, subset, spec.metric)
                mean, std, seeds = ours.loc[key, ["mean", "std", "seeds"]] if key in ours.index else (np.nan,) * 3
                published = study.get((table_id, row, subset, spec.metric), np.nan)
                lines.append((table_id, row, subset, spec.metric, mean, std, seeds, published, mean - published))
    columns = ["table", "row", "subset", "metric", "ours", "std", "seeds", "study", "delta"]
    return pd.DataFrame(lines, columns=columns)


def table_rows(
    *, table_id: str, evaluated: set[str], tags: Mapping[str, tuple[str, ...]], study: Mapping[Cell, float]
) -> list[str]:
    """The rows of one table: the study's rows in the study's order (ours blank where a row did not run), then
    our tagged, evaluated rows the study did not have, in matrix order."""
    published = list(dict.fromkeys(row for (t, row, _, _) in study if t == table_id))
    tagged = STUDY_TABLES[table_id].rows_tagged
    extra = [row for row, tables in tags.items() if tagged in tables and row in evaluated and row not in published]
    return published + extra


def cell_text(ours: float, std: float, study: float) -> str:
    """One table cell: ``4.702 ± 0.031 / 4.681 (+0.021)``; a missing side is ``—``."""
    mine = "—" if np.isnan(ours) else f"{ours:.3f}" + ("" if np.isnan(std) else f" ± {std:.3f}")
    theirs = "—" if np.isnan(study) else f"{study:.3f}"
    delta = "" if np.isnan(ours) or np.isnan(study) else f" ({ours - study:+.3f})"
    return f"{mine} / {theirs}{delta}"


def study_table_markdown(*, cells: pd.DataFrame, table_id: str, labels: Mapping[str, str]) -> list[str]:
    """The lines of one study table (``study_cells`` output) in the study's layout: rows x subsets.

    Args:
        cells: ``study_cells`` output (all tables; this one is picked).
        table_id: e.g. "4.1".
        labels: row -> its label (the study's wording and the row id); rows without one show their id.
    """
    mine = cells[cells["table"] == table_id]
    spec = STUDY_TABLES[table_id]
    text = mine.assign(
        cell=[cell_text(o, s, p) for o, s, p in zip(mine["ours"], mine["std"], mine["study"], strict=True)]
    )
    grid = text.pivot(index="row", columns="subset", values="cell")
    grid = grid.loc[list(dict.fromkeys(mine["row"])), list(spec.subsets)]
    grid.index = [labels.get(row, f"`{row}`") for row in grid.index]
    return markdown_table(grid, header=["row", *spec.subsets])


def metric_grid_markdown(
    *, summary: pd.DataFrame, metric: str, labels: Mapping[str, str], scale: float = 1.0, digits: int = 1
) -> list[str]:
    """A rows x subsets table of one metric (mean ± std over seeds), for the metrics the study did not report.

    Args:
        summary: ``row_summary`` output.
        metric: e.g. ``fr10`` or ``auc10``.
        labels: row -> label.
        scale: multiplies the values (1 keeps them as they are).
        digits: decimals shown.
    """
    part = summary[summary["metric"] == metric]
    text = [
        f"{m * scale:.{digits}f}" + ("" if np.isnan(s) else f" ± {s * scale:.{digits}f}")
        for m, s in zip(part["mean"], part["std"], strict=True)
    ]
    grid = part.assign(cell=text).pivot(index="row", columns="subset", values="cell")
    grid = grid.loc[list(dict.fromkeys(part["row"])), list(ALL_SUBSETS)]
    grid.index = [labels.get(row, f"`{row}`") for row in grid.index]
    return markdown_table(grid, header=["row", *ALL_SUBSETS])


def face_errors(manifests: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-face NME (percent) averaged over a row's seeds, with the subset flags. Index: ``face_id``."""
    nme = pd.concat([m.set_index("face_id")["nme"] for m in manifests], axis=1).mean(axis=1) * 100.0
    flags = manifests[0].set_index("face_id").filter(like="in_")
    return flags.assign(nme=nme)


def paired_intervals(
    *, row: pd.DataFrame, control: pd.DataFrame, subsets: tuple[str, ...], resamples: int, seed: int
) -> dict[str, Interval]:
    """Row minus control NME (percent) on the faces both evaluated, per subset, with bootstrap intervals.

    Args:
        row, control: ``face_errors`` outputs.
        subsets: the subsets to compare on (faces flagged ``in_<subset>``).
        resamples, seed: the bootstrap's.
    """
    both = row.join(control[["nme"]].rename(columns={"nme": "nme_control"}), how="inner")
    out = {}
    for subset in subsets:
        picked = both[both[f"in_{subset}"].astype(bool)] if f"in_{subset}" in both else both.iloc[:0]
        diff = (picked["nme"] - picked["nme_control"]).to_numpy()
        out[subset] = paired_bootstrap(differences=diff, resamples=resamples, seed=seed)
    return out


def interval_text(interval: Interval) -> str:
    """``-0.123 [-0.200, -0.041]``, or ``—`` when there were no faces."""
    if interval.faces == 0:
        return "—"
    return f"{interval.mean:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]"
