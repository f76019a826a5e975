"""The report stage: the study's tables from every evaluated row, as Markdown, CSV and HTML.

Inputs are the evaluation outputs of the rows (one input per row, named ``eval:<row>``); the key changes when
any row's per-face errors, the row tags or the published values change, so a changed row re-makes the report
and nothing else. The manifest is the long form of every table: one row per (table, matrix row, column).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from landmark_core.evaluate import metric_table
from landmark_core.report import study_tables, tables_markdown
from landmark_core.subsets import SUBSETS
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage

REPORT = StageSpec(name="report", version=1, modules=("landmark_core.report", "landmark_core.metrics", "tasks.report"))


@dataclass(frozen=True)
class ReportParams:
    """Row tags (row -> the tables it feeds) and the study's published values ((table, row, subset), value)."""

    tags: tuple[tuple[str, tuple[str, ...]], ...]
    published: tuple[tuple[tuple[str, str, str], float], ...] = ()


def report_stage(
    *, store: Store, evaluations: dict[str, StageOutput], params: ReportParams
) -> tuple[StageOutput, bool]:
    """Build every study table that has evaluated rows; write ``report.md``, ``report.html``, ``tables/*.csv``."""

    def compute(work: Path) -> StageResult:
        metrics = {row: metric_table(per_face=out.manifest(), subsets=SUBSETS) for row, out in evaluations.items()}
        tables = study_tables(metrics=metrics, tags=dict(params.tags), published=dict(params.published))
        (work / "tables").mkdir()
        long = []
        for table_id, table in tables.items():
            table.to_csv(work / "tables" / f"table_{table_id}.csv", float_format="%.4f")
            stacked = table.stack(future_stack=True).rename("value").reset_index()
            long.append(stacked.rename(columns={"level_1": "column"}).assign(table=table_id))
        markdown = tables_markdown(tables)
        (work / "report.md").write_text(markdown)
        html = "".join(
            f"<h2>Table {t}</h2>\n{tab.to_html(float_format='%.3f', na_rep='')}\n" for t, tab in tables.items()
        )
        (work / "report.html").write_text(f"<html><body><h1>Results</h1>\n{html}</body></html>\n")
        manifest = (
            pd.concat(long, ignore_index=True) if long else pd.DataFrame(columns=["table", "row", "column", "value"])
        )
        return StageResult(manifest=manifest[["table", "row", "column", "value"]], info={"tables": sorted(tables)})

    inputs = {f"eval:{row}": out for row, out in evaluations.items()}
    return run_stage(store=store, spec=REPORT, params=params, inputs=inputs, compute=compute)
