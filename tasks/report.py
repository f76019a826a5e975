"""The report stage: the study's Tables 4.1-4.9 with every published number beside ours, the study's claims
judged on our numbers, paired bootstrap intervals, the run's header, and the figures; one Markdown document,
also rendered as a self-contained ``report.html``.

Inputs are the evaluation and training outputs of every run (a run = a matrix row with one seed; the
``evaluations`` and ``trainings`` families, one member per run), the data stages and, when the profile ran it,
the GAN branch. The key changes when any run's per-face errors, the matrix rows' wording, the published values
or the claims change, so a changed row re-makes the report and nothing else. The manifest is every cell of
Tables 4.1-4.9 in long form: ours, the spread over seeds, the study's value and the difference.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.claims import Claim, judge_claims
from landmark_core.dataset import face_records, read_image
from landmark_core.figures import ced_grid, prediction_grid, save_figure
from landmark_core.markdown import markdown_html, markdown_table
from landmark_core.report import (
    ALL_SUBSETS,
    BEYOND_STUDY,
    CELL_LEGEND,
    MAIN_SUBSETS,
    STUDY_TABLES,
    face_errors,
    interval_text,
    metric_grid_markdown,
    paired_intervals,
    row_summary,
    study_cells,
    study_table_markdown,
)
from landmark_core.statistics import Interval
from landmark_core.subsets import STUDY_TEST_COUNTS, frontal_sensitivity
from tasks.dataset_tree import dataset_root
from tasks.report_gan import GanOutputs, gan_figures, gan_summary
from tasks.report_header import header_markdown

HARDEST_FACES = 6
GRID_MODELS = 3


@dataclass(frozen=True)
class ReportRow:
    """What the report needs to know about one matrix row (``elt_study.experiments.ExperimentRow``)."""

    name: str
    label: str = ""
    lighting_label: str = ""
    control: str = ""
    tables: tuple[str, ...] = ()
    beyond_study: bool = False
    future_work: str = ""


@dataclass(frozen=True)
class ReportConfig:
    """The report's settings.

    Attributes:
        profile: the profile's name (shown in the header).
        rows: every matrix row (its wording, control, tables), in matrix order; the tables list the study's
            rows even where they did not run.
        runs: (member of the ``evaluations``/``trainings`` families, its row, its seed) of every run.
        study: the study's published cells ((table, row, subset, metric), value).
        claims: the study's conclusions to judge.
        hypotheses: the future-work hypotheses to judge (``elt_study/experiments/future_work.toml``), the same way.
        resamples: bootstrap resamples of each paired interval.
        bootstrap_seed: seeds the resampling (the same errors always give the same interval).
        hardest_faces: faces in the hardest-faces grid.
    """

    profile: str = ""
    rows: tuple[ReportRow, ...] = ()
    runs: tuple[tuple[str, str, int], ...] = ()
    study: tuple[tuple[tuple[str, str, str, str], float], ...] = ()
    claims: tuple[Claim, ...] = ()
    hypotheses: tuple[Claim, ...] = ()
    resamples: int = 2000
    bootstrap_seed: int = 0
    hardest_faces: int = HARDEST_FACES

    def labels(self, *, lighting: bool) -> dict[str, str]:
        """Row -> ``wording (`row`)``, the lighting tables' wording when ``lighting``; beyond-study rows marked."""
        out = {}
        for row in self.rows:
            text = row_text(words=(row.lighting_label or row.label) if lighting else row.label, name=row.name)
            out[row.name] = f"{text} {BEYOND_STUDY}" if row.beyond_study else text
        return out


def row_text(*, words: str, name: str) -> str:
    """A row as the report names it: ``words (`name`)``, or the name alone when the row has no wording."""
    return f"{words} (`{name}`)" if words else f"`{name}`"


@stage(version=5)
def report(
    *,
    config: ReportConfig,
    ctx: StageContext,
    evaluations: Mapping[str, StageOutput],
    trainings: Mapping[str, StageOutput],
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
    """Write ``report.md`` and ``report.html`` (the same document), ``tables/*.csv`` and ``figures/*.png``."""
    work = ctx.work
    per_seed = _per_seed(config, evaluations)
    summary = row_summary(per_seed=per_seed)
    study = dict(config.study)
    tags = {r.name: r.tables for r in config.rows}
    cells = study_cells(summary=summary, tags=tags, study=study)
    faces = {row: face_errors(manifests) for row, manifests in per_seed.items()}
    verdicts = judge_claims(claims=config.claims, faces=faces, resamples=config.resamples, seed=config.bootstrap_seed)
    tested = judge_claims(claims=config.hypotheses, faces=faces, resamples=config.resamples, seed=config.bootstrap_seed)
    paired = _paired(config, faces)
    branch = (pasted, projected, reviewed, attributes, relit, relit_pasted, relit_physical)
    gan = _gan(aligned, filtered, segmenter, masks, *branch)
    inputs = {"dataset": dataset, "index": index, "subsets": subsets, **(vars(gan) if gan else {})}
    figures = _figures(work / "figures", per_seed, faces, config, dataset, index)
    if gan is not None and dataset is not None and index is not None:
        figures += gan_figures(work / "figures", dataset, index, gan)
    header = header_markdown(
        profile=config.profile, runs=config.runs, trainings=trainings, evaluations=evaluations, inputs=inputs
    )
    markdown = "\n".join(
        [
            header,
            _claims_markdown(verdicts),
            _study_markdown(cells, config),
            _future_markdown(summary, paired, tested, config),
            _beyond_markdown(summary, paired, config, subsets),
            gan_summary(gan) if gan is not None else "",
            _figures_markdown(figures),
        ]
    )
    (work / "report.md").write_text(markdown)
    page = markdown_html(markdown=markdown, title=f"ELT-Repro report ({config.profile})", images=figure_uris(work))
    (work / "report.html").write_text(page)
    _write_tables(work / "tables", cells, summary, paired, verdicts)
    tested.to_csv(work / "tables" / "hypotheses.csv", index=False, float_format="%.5f")
    info = {
        "tables": sorted(set(cells["table"])),
        "verdicts": dict(zip(verdicts["id"], verdicts["verdict"], strict=True)),
        "hypotheses": dict(zip(tested["id"], tested["verdict"], strict=True)),
    }
    return StageResult(manifest=cells, info=info)


def _names(config: ReportConfig) -> list[str]:
    return [r.name for r in config.rows]


def _per_seed(config: ReportConfig, evaluations: Mapping[str, StageOutput]) -> dict[str, list[pd.DataFrame]]:
    """Row -> its runs' per-face manifests, in seed order (a member missing from ``runs`` is its own row)."""
    runs = {member: (row, seed) for member, row, seed in config.runs}
    ordered = sorted(evaluations, key=lambda m: (runs.get(m, (m, 0))[1], m))
    out: dict[str, list[pd.DataFrame]] = {}
    for member in ordered:
        out.setdefault(runs.get(member, (member, 0))[0], []).append(evaluations[member].manifest())
    order = {name: i for i, name in enumerate(_names(config))}
    return dict(sorted(out.items(), key=lambda item: order.get(item[0], len(order))))


def _paired(config: ReportConfig, faces: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every run row against its control: the paired NME difference with its interval, per subset."""
    lines = []
    for row in config.rows:
        if row.name not in faces or row.control not in faces:
            continue
        intervals = paired_intervals(
            row=faces[row.name],
            control=faces[row.control],
            subsets=ALL_SUBSETS,
            resamples=config.resamples,
            seed=config.bootstrap_seed,
        )
        lines += [(row.name, row.control, subset, *vars(i).values()) for subset, i in intervals.items()]
    columns = ["row", "control", "subset", "mean", "low", "high", "faces"]
    return pd.DataFrame(lines, columns=columns)


def _claims_markdown(verdicts: pd.DataFrame) -> str:
    if verdicts.empty:
        return ""
    tally = _tally(verdicts)
    table = verdicts.set_index("text")[["verdict", "difference", "source"]]
    lines = markdown_table(
        table, header=["the study's claim", "verdict on our numbers", "ours: row − other, NME % [95 % CI]", "study"]
    )
    intro = (
        "Each claim is judged on the paired per-face NME difference of its two rows on the same test faces "
        "(seeds averaged per face), with a 95 % bootstrap interval (faces resampled): supported when the interval "
        "lies on the claim's side of 0, contradicted when it lies on the other side, inconclusive when it contains 0."
    )
    return f"\n## Claims\n\n{intro}\n\n{tally}.\n\n" + "\n".join(lines) + "\n"


def _study_markdown(cells: pd.DataFrame, config: ReportConfig) -> str:
    parts = ["\n# The study's tables\n", CELL_LEGEND, ""]
    for table_id, spec in STUDY_TABLES.items():
        labels = config.labels(lighting=spec.rows_tagged != "4.1")
        parts += [f"## Table {table_id}: {spec.title}", ""]
        parts += [*study_table_markdown(cells=cells, table_id=table_id, labels=labels), ""]
    return "\n".join(parts)


def _future_markdown(summary: pd.DataFrame, paired: pd.DataFrame, tested: pd.DataFrame, config: ReportConfig) -> str:
    """The section "The study's future work, tested": each future-work row against its control, the hypotheses."""
    future = [r for r in config.rows if r.future_work]
    if not future:
        return ""
    parts = ["\n# The study's future work, tested\n", FUTURE_INTRO, ""]
    if not tested.empty:
        table = tested.set_index("text")[["verdict", "difference"]]
        parts += ["## Hypotheses", "", f"{_tally(tested)}.", ""]
        parts += [*markdown_table(table, header=["hypothesis", "verdict", "row − other, NME % [95 % CI]"]), ""]
    ran = paired[paired["row"].isin([r.name for r in future])]
    full = summary[(summary["subset"] == "full") & (summary["metric"] == "nme")].set_index("row")
    lines = []
    for row in future:
        pair = ran[(ran["row"] == row.name) & (ran["subset"] == "full")]
        name = row_text(words=row.label, name=row.name)
        if row.name not in full.index:
            lines.append((row.future_work, name, f"`{row.control}`", "not run", "", "", ""))
            continue
        ours, seeds = f"{full.loc[row.name, 'mean']:.3f}", int(full.loc[row.name, "seeds"])
        control = f"{full.loc[row.control, 'mean']:.3f}" if row.control in full.index else "not run"
        cell = interval_text(_interval(next(pair.itertuples()))) if not pair.empty else ""
        lines.append((row.future_work, name, f"`{row.control}`", ours, control, cell, seeds))
    header = ["tests", "row", "control", "Full NME %", "control's", "row − control [95 % CI]", "seeds"]
    parts += ["## Each row against its control (Full)", ""]
    parts += [*markdown_table(pd.DataFrame(lines, columns=header).set_index("tests"), header=header), ""]
    return "\n".join(parts)


FUTURE_INTRO = (
    "The study's untested claim (the ELT term needs no labels) and the experiments its section 5.1 leaves for "
    "future work, as rows of the matrix marked beyond the study: none of them is in Tables 4.1-4.9. Each row is "
    "compared face by face with its control on the same test faces (seeds averaged per face, 95 % bootstrap "
    "interval), and each hypothesis is judged as the study's claims are."
)
VERDICTS = ("supported", "contradicted", "inconclusive", "not run")


def _tally(verdicts: pd.DataFrame) -> str:
    """How many claims (or hypotheses) got each verdict: ``3 supported, 1 inconclusive``."""
    counts = verdicts["verdict"].value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if v in counts)


def _beyond_markdown(summary: pd.DataFrame, paired: pd.DataFrame, config: ReportConfig, subsets) -> str:
    labels = config.labels(lighting=False)
    parts = ["\n# Beyond the study\n", "The study reports none of the following.", ""]
    paired = paired[~paired["row"].isin([r.name for r in config.rows if r.future_work])]
    if not paired.empty:
        parts += ["## Paired differences against each row's control", ""]
        parts += [
            "NME % of the row minus its control's, face by face on the same test faces (seeds averaged per face), "
            "with a 95 % bootstrap interval; an interval that contains 0 is no evidence of a difference.",
            "",
        ]
        text = paired.assign(cell=[interval_text(_interval(r)) for r in paired.itertuples()])
        grid = text.pivot(index="row", columns="subset", values="cell")
        grid = grid.loc[list(dict.fromkeys(paired["row"])), list(MAIN_SUBSETS)]
        controls = dict(zip(paired["row"], paired["control"], strict=True))
        grid.index = [f"{labels.get(r, r)} vs `{controls[r]}`" for r in grid.index]
        parts += [*markdown_table(grid, header=["row vs control", *MAIN_SUBSETS]), ""]
    if not summary.empty:
        parts += ["## FR@10 (%) of every row and subset", ""]
        parts += [*metric_grid_markdown(summary=summary, metric="fr10", labels=labels), ""]
        parts += ["## AUC@10 of every row and subset", ""]
        parts += [*metric_grid_markdown(summary=summary, metric="auc10", labels=labels, digits=3), ""]
    if subsets is not None:
        parts.append(_subset_counts(subsets))
    return "\n".join(parts)


def _interval(line) -> Interval:
    return Interval(mean=line.mean, low=line.low, high=line.high, faces=line.faces)


def _subset_counts(subsets: StageOutput) -> str:
    """Markdown: faces per split in full, frontal and frontal illumination, the study's test counts beside."""
    info = subsets.metadata()["info"]
    counts = dict(info["counts"])
    study = counts.pop("study_test")
    splits = [s for s in ("test", "train") if s in counts]
    table = pd.DataFrame(counts).reindex(index=list(STUDY_TEST_COUNTS), columns=splits)
    table = table.rename(columns=lambda split: f"ours ({split})")
    table["study (test)"] = pd.Series(study)
    rows = markdown_table(table.astype("Int64"), header=["subset", *table.columns])
    note = (
        f"{info.get('no_pose', 0)} face(s) without a pose (NaN angles, not frontal; listed in the subsets quarantine)."
    )
    return "## Faces per subset\n\n" + "\n".join(rows) + "\n\n" + note + "\n" + _frontal_rule_markdown(subsets)


def _frontal_rule_markdown(subsets: StageOutput) -> str:
    """Markdown: the frontal counts under other limits and with each angle left out (of the
    test split, or train when there is none), with the study's counts beside the study's rule."""
    table = subsets.manifest()
    split = "test" if (table["split"] == "test").any() else "train"
    counts = frontal_sensitivity(subsets=table, split=split).rename(columns=lambda c: f"{c} (ours, {split})")
    lines = markdown_table(counts, header=["frontal rule", *counts.columns])
    study = f"{STUDY_TEST_COUNTS['frontal']} frontal and {STUDY_TEST_COUNTS['frontal_illumination']}"
    return (
        "\n### How the frontal faces depend on the rule\n\n"
        "The study does not publish its pose estimator's details; these counts show how much Table 4.9's faces "
        "depend on the limit and on each angle of the rule.\n\n"
        + "\n".join(lines)
        + f"\n\nThe study: {study} frontal-illumination test faces with yaw, pitch and roll within ±12.5°.\n"
    )


def _figures_markdown(figures: list[str]) -> str:
    titles = {
        "ced": "CED per subset (beyond the study: the study shows no CED)",
        "hardest": "Fig. 4.1: the hardest test faces (truth green, prediction red)",
    }
    parts = ["\n# Figures\n"]
    parts += [f"## {titles.get(name, name)}\n\n![{name}](figures/{name}.png)\n" for name in figures]
    return "\n".join(parts)


def figure_uris(folder: Path) -> dict[str, str]:
    """``figures/<name>.png`` -> its PNG as a data URI, for every figure of a report folder (a page or a Prefect
    artifact that shows them cannot reach the store)."""
    return {
        f"figures/{png.name}": "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        for png in sorted((folder / "figures").glob("*.png"))
    }


def _write_tables(folder: Path, cells, summary, paired, verdicts) -> None:
    folder.mkdir()
    for table_id, part in cells.groupby("table", sort=False):
        part.drop(columns="table").to_csv(folder / f"table_{table_id}.csv", index=False, float_format="%.4f")
    summary.to_csv(folder / "summary.csv", index=False, float_format="%.5f")
    paired.to_csv(folder / "paired.csv", index=False, float_format="%.5f")
    verdicts.to_csv(folder / "claims.csv", index=False, float_format="%.5f")


def _gan(aligned, filtered, segmenter, masks, *branch) -> GanOutputs | None:
    """The GAN branch's outputs when the profile ran it (its geometry is always there then)."""
    if aligned is None or filtered is None or segmenter is None or masks is None:
        return None
    pasted, projected, reviewed, attributes, relit, relit_pasted, relit_physical = branch
    return GanOutputs(
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


def _figures(folder: Path, per_seed, faces, config: ReportConfig, dataset, index) -> list[str]:
    """Write the CED of every row per subset and the hardest-faces grid; returns the figure names written.

    ``per_seed``: row -> its runs' evaluation manifests; ``faces``: row -> ``face_errors`` (seeds averaged)."""
    if not per_seed:
        return []
    folder.mkdir()
    errors = {
        subset: {row: f.loc[f[f"in_{subset}"].astype(bool), "nme"].to_numpy() / 100.0 for row, f in faces.items()}
        for subset in ALL_SUBSETS
    }
    fig = ced_grid(errors=errors)
    save_figure(fig=fig, path=folder / "ced.png")
    if dataset is None or index is None:
        return ["ced"]
    first = {row: manifests[0].set_index("face_id") for row, manifests in per_seed.items()}
    hardest = pd.concat([f["nme"] for f in faces.values()], axis=1).mean(axis=1).nlargest(config.hardest_faces)
    table = index.manifest().set_index("face_id").loc[hardest.index].reset_index()
    records = face_records(root=dataset_root(dataset), faces=table)
    models = _grid_models(first)
    fig = prediction_grid(
        images=[read_image(r.image_path) for r in records],
        truth=np.stack([r.landmarks for r in records]),
        predictions={
            m: np.stack(first[m].loc[hardest.index, "pred"].tolist()).reshape(len(records), -1, 2) for m in models
        },
        errors={m: first[m].loc[hardest.index, "nme"].to_numpy() for m in models},
    )
    save_figure(fig=fig, path=folder / "hardest.png")
    return ["ced", "hardest"]


def _grid_models(per_face: dict[str, pd.DataFrame]) -> list[str]:
    """The first row (the baseline in the study's matrix) and the rows with the lowest full-set NME."""
    first = next(iter(per_face))
    ranked = sorted((f["nme"].mean(), row) for row, f in per_face.items() if row != first)
    return [first, *(row for _, row in ranked[: GRID_MODELS - 1])]
