"""The report stage: the study's tables from every evaluated row, as Markdown, CSV and HTML.

Inputs are the evaluation outputs of the rows (one input per row, named ``eval:<row>``); the key changes when
any row's per-face errors, the row tags or the published values change, so a changed row re-makes the report
and nothing else. The manifest is the long form of every table: one row per (table, matrix row, column).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from landmark_core.dataset import face_records, read_image
from landmark_core.evaluate import metric_table
from landmark_core.figures import ced_figure, prediction_grid
from landmark_core.report import study_tables, tables_markdown
from landmark_core.subsets import SUBSETS
from tasks.data import DATASET_DIR
from tasks.report_gan import gan_figures, gan_summary
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage

REPORT = StageSpec(name="report", version=2, modules=("landmark_core.report", "landmark_core.metrics",
                                                     "landmark_core.figures", "gan_core.figures", "tasks.report",
                                                     "tasks.report_gan"))  # fmt: skip
HARDEST_FACES = 6
GRID_MODELS = 3


@dataclass(frozen=True)
class ReportParams:
    """Row tags (row -> the tables it feeds) and the study's published values ((table, row, subset), value)."""

    tags: tuple[tuple[str, tuple[str, ...]], ...]
    published: tuple[tuple[tuple[str, str, str], float], ...] = ()
    hardest_faces: int = HARDEST_FACES


def report_stage(
    *,
    store: Store,
    evaluations: dict[str, StageOutput],
    params: ReportParams,
    dataset: StageOutput | None = None,
    index: StageOutput | None = None,
    gan: dict[str, StageOutput] | None = None,
) -> tuple[StageOutput, bool]:
    """Build every study table that has evaluated rows; write ``report.md``, ``report.html``, ``tables/*.csv``,
    ``figures/ced.png`` and, when the dataset and index are given, ``figures/hardest.png`` (Fig. 4.1). With the
    GAN branch's outputs (``gan``: aligned, filtered, segmenter, masks, pasted) a summary of the branch and
    ``figures/alignment.png`` (Fig. 3.9) and ``figures/paste.png`` (Fig. 3.14) join them."""

    def compute(work: Path) -> StageResult:
        metrics = {row: metric_table(per_face=out.manifest(), subsets=SUBSETS) for row, out in evaluations.items()}
        tables = study_tables(metrics=metrics, tags=dict(params.tags), published=dict(params.published))
        (work / "tables").mkdir()
        long = []
        for table_id, table in tables.items():
            table.to_csv(work / "tables" / f"table_{table_id}.csv", float_format="%.4f")
            stacked = table.stack(future_stack=True).rename("value").reset_index()
            long.append(stacked.rename(columns={"level_1": "column"}).assign(table=table_id))
        figures = _figures(work / "figures", evaluations, params, dataset, index)
        markdown = tables_markdown(tables)
        if gan:
            (work / "figures").mkdir(exist_ok=True)
            figures += gan_figures(work / "figures", dataset, gan)
            markdown += gan_summary(gan)
        markdown += "".join(f"\n![{name}](figures/{name}.png)\n" for name in figures)
        (work / "report.md").write_text(markdown)
        html = "".join(
            f"<h2>Table {t}</h2>\n{tab.to_html(float_format='%.3f', na_rep='')}\n" for t, tab in tables.items()
        )
        html += "".join(f'<h2>{name}</h2>\n<img src="figures/{name}.png">\n' for name in figures)
        (work / "report.html").write_text(f"<html><body><h1>Results</h1>\n{html}</body></html>\n")
        manifest = (
            pd.concat(long, ignore_index=True) if long else pd.DataFrame(columns=["table", "row", "column", "value"])
        )
        return StageResult(manifest=manifest[["table", "row", "column", "value"]], info={"tables": sorted(tables)})

    inputs = {f"eval:{row}": out for row, out in evaluations.items()}
    inputs |= {name: out for name, out in (("dataset", dataset), ("index", index)) if out is not None}
    inputs |= {f"gan:{name}": out for name, out in (gan or {}).items()}
    return run_stage(store=store, spec=REPORT, params=params, inputs=inputs, compute=compute)


def _figures(folder: Path, evaluations, params: ReportParams, dataset, index) -> list[str]:
    """Write the CED of every row and the hardest-faces grid; returns the figure names written."""
    if not evaluations:
        return []
    folder.mkdir()
    per_face = {row: out.manifest().set_index("face_id") for row, out in evaluations.items()}
    fig = ced_figure(errors={row: f["nme"].to_numpy() for row, f in per_face.items()}, title="CED, full test set")
    fig.savefig(folder / "ced.png")
    plt.close(fig)
    if dataset is None or index is None:
        return ["ced"]
    hardest = pd.concat([f["nme"] for f in per_face.values()], axis=1).mean(axis=1).nlargest(params.hardest_faces)
    faces = index.manifest().set_index("face_id").loc[hardest.index].reset_index()
    records = face_records(root=dataset.local_dir() / DATASET_DIR, faces=faces)
    models = _grid_models(per_face)
    fig = prediction_grid(
        images=[read_image(r.image_path) for r in records],
        truth=np.stack([r.landmarks for r in records]),
        predictions={m: np.stack(per_face[m].loc[hardest.index, "pred"].tolist()).reshape(len(records), -1, 2)
                     for m in models},
        errors={m: per_face[m].loc[hardest.index, "nme"].to_numpy() for m in models},
    )  # fmt: skip
    fig.savefig(folder / "hardest.png")
    plt.close(fig)
    return ["ced", "hardest"]


def _grid_models(per_face: dict[str, pd.DataFrame]) -> list[str]:
    """The first row (the baseline in the study's matrix) and the rows with the lowest full-set NME."""
    first = next(iter(per_face))
    ranked = sorted((f["nme"].mean(), row) for row, f in per_face.items() if row != first)
    return [first, *(row for _, row in ranked[: GRID_MODELS - 1])]
