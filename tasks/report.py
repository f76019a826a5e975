"""The report stage: the study's tables from every evaluated row, as Markdown, CSV and HTML.

Inputs are the evaluation outputs of the rows (the ``evaluations`` family, one member per row); the key changes when
any row's per-face errors, the row tags or the published values change, so a changed row re-makes the report
and nothing else. The manifest is the long form of every table: one row per (table, matrix row, column).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from landmark_core.dataset import face_records, read_image
from landmark_core.evaluate import metric_table
from landmark_core.figures import ced_figure, prediction_grid
from landmark_core.markdown import markdown_table
from landmark_core.report import study_tables, tables_markdown
from landmark_core.subsets import STUDY_TEST_COUNTS, SUBSETS
from tasks.dataset_tree import dataset_root
from tasks.report_gan import GanOutputs, gan_figures, gan_summary
from tasks.stage import StageContext, stage
from tasks.store import StageOutput, StageResult

HARDEST_FACES = 6
GRID_MODELS = 3


@dataclass(frozen=True)
class ReportConfig:
    """Row tags (row -> the tables it feeds) and the study's published values ((table, row, subset), value)."""

    tags: tuple[tuple[str, tuple[str, ...]], ...]
    published: tuple[tuple[tuple[str, str, str], float], ...] = ()
    beyond_study: tuple[str, ...] = ()  # rows the study did not have (labelled so in every table)
    hardest_faces: int = HARDEST_FACES


def subset_counts_markdown(subsets: StageOutput) -> str:
    """Markdown: faces per split in full, frontal and frontal illumination, the study's test counts beside."""
    counts = subsets.metadata()["info"]["counts"]
    study = counts.pop("study_test")
    splits = [s for s in ("test", "train") if s in counts]
    table = pd.DataFrame(counts).reindex(index=list(STUDY_TEST_COUNTS), columns=splits)
    table = table.rename(columns=lambda split: f"ours ({split})")
    table["study (test)"] = pd.Series(study)
    rows = markdown_table(table.astype("Int64"), header=["subset", *table.columns])
    no_pose = subsets.metadata()["info"].get("no_pose", 0)
    note = f"{no_pose} face(s) without a pose (NaN angles, not frontal; listed in the subsets quarantine).\n"
    return "\n## Faces per subset\n\n" + "\n".join(rows) + "\n\n" + note


@stage(version=3)
def report(
    *,
    config: ReportConfig,
    ctx: StageContext,
    evaluations: Mapping[str, StageOutput],
    dataset: StageOutput | None = None,
    index: StageOutput | None = None,
    subsets: StageOutput | None = None,
    aligned: StageOutput | None = None,
    filtered: StageOutput | None = None,
    segmenter: StageOutput | None = None,
    masks: StageOutput | None = None,
    pasted: StageOutput | None = None,
    projected: StageOutput | None = None,
    reviewed: StageOutput | None = None,
    attributes: StageOutput | None = None,
    relit: StageOutput | None = None,
    relit_pasted: StageOutput | None = None,
    relit_physical: StageOutput | None = None,
) -> StageResult:
    """Build every study table that has evaluated rows; write ``report.md``, ``report.html``, ``tables/*.csv``,
    ``figures/ced.png`` and, when the dataset and index are given, ``figures/hardest.png`` (Fig. 4.1). With the
    GAN branch's outputs (aligned ... relit_physical) a summary of the branch and its figures (Fig. 3.9, 3.11,
    3.14, the projections) join them."""
    work = ctx.work
    metrics = {row: metric_table(per_face=out.manifest(), subsets=SUBSETS) for row, out in evaluations.items()}
    tables = study_tables(metrics=metrics, tags=dict(config.tags), published=dict(config.published))
    (work / "tables").mkdir()
    long = []
    for table_id, table in tables.items():
        table.to_csv(work / "tables" / f"table_{table_id}.csv", float_format="%.4f")
        stacked = table.stack(future_stack=True).rename("value").reset_index()
        long.append(stacked.rename(columns={"level_1": "column"}).assign(table=table_id))
    figures = _figures(work / "figures", evaluations, config, dataset, index)
    markdown = tables_markdown(tables, beyond_study=frozenset(config.beyond_study))
    if subsets is not None:
        markdown += subset_counts_markdown(subsets)
    if aligned is not None and filtered is not None and segmenter is not None and masks is not None:
        gan = GanOutputs(
            aligned=aligned,
            filtered=filtered,
            segmenter=segmenter,
            masks=masks,
            pasted=pasted,
            projected=projected,
            reviewed=reviewed,
            attributes=attributes,
            relit=relit,
            relit_pasted=relit_pasted,
            relit_physical=relit_physical,
        )
        (work / "figures").mkdir(exist_ok=True)
        figures += gan_figures(work / "figures", dataset, gan)
        markdown += gan_summary(gan)
    markdown += "".join(f"\n![{name}](figures/{name}.png)\n" for name in figures)
    (work / "report.md").write_text(markdown)
    html = "".join(f"<h2>Table {t}</h2>\n{tab.to_html(float_format='%.3f', na_rep='')}\n" for t, tab in tables.items())
    html += "".join(f'<h2>{name}</h2>\n<img src="figures/{name}.png">\n' for name in figures)
    (work / "report.html").write_text(f"<html><body><h1>Results</h1>\n{html}</body></html>\n")
    empty = pd.DataFrame(columns=["table", "row", "column", "value"])
    manifest = pd.concat(long, ignore_index=True) if long else empty
    return StageResult(manifest=manifest[["table", "row", "column", "value"]], info={"tables": sorted(tables)})


def _figures(folder: Path, evaluations, config: ReportConfig, dataset, index) -> list[str]:
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
    hardest = pd.concat([f["nme"] for f in per_face.values()], axis=1).mean(axis=1).nlargest(config.hardest_faces)
    faces = index.manifest().set_index("face_id").loc[hardest.index].reset_index()
    records = face_records(root=dataset_root(dataset), faces=faces)
    models = _grid_models(per_face)
    fig = prediction_grid(
        images=[read_image(r.image_path) for r in records],
        truth=np.stack([r.landmarks for r in records]),
        predictions={
            m: np.stack(per_face[m].loc[hardest.index, "pred"].tolist()).reshape(len(records), -1, 2) for m in models
        },
        errors={m: per_face[m].loc[hardest.index, "nme"].to_numpy() for m in models},
    )
    fig.savefig(folder / "hardest.png")
    plt.close(fig)
    return ["ced", "hardest"]


def _grid_models(per_face: dict[str, pd.DataFrame]) -> list[str]:
    """The first row (the baseline in the study's matrix) and the rows with the lowest full-set NME."""
    first = next(iter(per_face))
    ranked = sorted((f["nme"].mean(), row) for row, f in per_face.items() if row != first)
    return [first, *(row for _, row in ranked[: GRID_MODELS - 1])]
