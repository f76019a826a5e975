"""The ``reproduce`` flow: the design's stage diagram, read top to bottom.

    data:    synth_wflw | fetch_wflw + download_wflw -> index_wflw -> subsets                  (data_branch)
    GAN:     align -> filter_faces -> segment_train -> segment -> paste                       (gan_branch)
             relight_physical                                              (physical backend)
             filter_faces -> project -> [review gate] -> attributes -> relight_styleflow -> paste "relit"
                                                              attributes -> edit_styleflow -> paste "edited"
    rows:    train_landmarks -> evaluate_landmarks, per experiment row; relit rows add the relit faces
    report:  report (every evaluated row, the GAN branch's outputs)

Every stage this file runs is imported at the top from ``tasks/<stage>.py``, its one definition.

Every stage is a cached Prefect task derived from its definition in ``tasks/<stage>.py``: a re-run computes
only what is missing, and changing one row's config re-runs only that row's training and evaluation, and
the report. With ``local=False`` (``--pool``) the GPU work goes to the GPU pool: each unfinished row is a flow
run of the ``train-experiment`` deployment, and every other stage declared ``gpu=True`` (projection, the
StyleFlow edit, DPR attributes, the segmenter's training) a flow run of ``run-stage``; their outputs come back
through the store.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from elt_study.experiments import ExperimentRow, seeded_configs
from elt_study.run_profile import GanConfig, Profile, load_profile, plan_rows, profile_path
from flows.names import TRAIN_DEPLOYMENT
from flows.pool import await_rows, run_on_pool, submit_rows
from flows.refs import DataRefs, GanRefs, Reproduction
from flows.report_artifacts import artifact_markdown
from flows.review_gate import review_gate
from flows.rows import train_row
from kit.prefect_stage import StageRef, StageRunner
from kit.stage import Runtime
from landmark_core.study_values import load_study_values
from tasks.align import align
from tasks.attributes import attributes
from tasks.dataset_tree import default_workers
from tasks.download_wflw import DownloadConfig, WflwSourceConfig, download_wflw, fetch_wflw
from tasks.edit_styleflow import edit_styleflow
from tasks.filter_faces import filter_faces
from tasks.index_wflw import IndexConfig, index_wflw
from tasks.paste import paste
from tasks.project import project
from tasks.relight_physical import relight_physical
from tasks.relight_styleflow import relight_styleflow
from tasks.report import ReportConfig, ReportRow, report
from tasks.segment import segment
from tasks.segment_train import segment_train
from tasks.subsets import subsets
from tasks.synth_wflw import synth_wflw


@flow(name="reproduce")
def reproduce(
    profile: str = "demo",
    store: str = "artifacts",
    experiments: list[str] | None = None,
    profile_file: str | None = None,
    local: bool = True,
    deployment: str = TRAIN_DEPLOYMENT,
) -> Reproduction:
    """Run the graph of one profile.

    Args:
        profile: name of a file in ``elt_study/profiles/``.
        store: artifact store (local path or fsspec URL).
        experiments: matrix rows to train (None: the profile's `rows`, all rows when it names none).
        profile_file: an explicit profile path (overrides ``profile``).
        local: train the rows in this process; False runs each row as a flow run of ``deployment`` (the GPU
            pool) and waits for all of them.
        deployment: ``<flow>/<deployment>`` of the train-experiment deployment.

    Returns:
        The stage references of the data branch, the GAN branch, every row and the report.
    """
    path = profile_path(profile_file or profile)
    prof = load_profile(path)
    plan = plan_rows(prof, experiments)  # bad names fail before any work
    rows = plan.rows
    weights = prof.gan.weights_dir if prof.gan else ""
    runtime = Runtime(device=prof.device, workers=default_workers(), weights_dir=weights, shard_faces=prof.shard_faces)
    run = StageRunner(store=store, runtime=runtime)
    if not local:  # every GPU stage goes to the GPU pool, as a flow run of the run-stage deployment
        pool = partial(run_on_pool, worker_wait_s=prof.pool_wait_s, device=prof.device, weights_dir=weights)
        run = replace(run, remote=pool)

    data = data_branch(run, prof)
    backends = frozenset(r.relit for r in rows if r.relit)
    early = [] if local else submit_rows(run, [r for r in rows if not r.relit], prof, data, deployment, None)
    gan = gan_branch(run, prof.gan, data, backends=backends) if prof.gan is not None else None  # rows train meanwhile
    rows = trainable_rows(rows, gan)
    if not local:
        await_rows(early + submit_rows(run, [r for r in rows if r.relit], prof, data, deployment, gan))
    plans = {row.name: seeded_configs(base=prof.train, row=row, seeds=prof.seeds_for(row.name)) for row in rows}
    relit = {row.name: gan.augmented_for(row.relit) if gan and row.relit else None for row in rows}
    trained = {
        row: {name: train_row(run, row=name, config=c, data=data, augmented=relit[row]) for name, c in runs.items()}
        for row, runs in plans.items()
    }
    config = ReportConfig(
        profile=path.stem,
        rows=tuple(
            ReportRow(
                name=r.name,
                label=r.label,
                lighting_label=r.lighting_label,
                control=r.control,
                tables=r.tables,
                beyond_study=r.beyond_study,
                future_work=r.future_work,
            )
            for r in plan.matrix
        ),
        runs=tuple((name, row, c.seed) for row, runs in plans.items() for name, c in runs.items()),
        study=tuple(load_study_values().items()),
        claims=plan.claims,
        hypotheses=plan.hypotheses,
    )
    made = run(
        report,
        config,
        evaluations={name: refs.evaluated for seeds in trained.values() for name, refs in seeds.items()},
        trainings={name: refs.trained for seeds in trained.values() for name, refs in seeds.items()},
        dataset=data.dataset,
        index=data.index,
        subsets=data.subsets,
        **(gan.report_inputs() if gan else {}),
    )
    publish_report_artifacts(made)
    return Reproduction(data=data, gan=gan, rows=trained, report=made)


def data_branch(run: StageRunner, prof: Profile) -> DataRefs:
    """The dataset (the real WFLW when the profile has one, else the synthetic twin), its index, the subsets."""
    real = prof.wflw is not None
    dataset = run(download_wflw, fetch_archives(prof.wflw)) if real else run(synth_wflw, prof.synth)
    index = run(index_wflw, IndexConfig(), dataset=dataset)
    return DataRefs(dataset=dataset, index=index, subsets=run(subsets, prof.subsets, index=index))


@task(name="fetch_wflw", retries=2, retry_delay_seconds=30)
def fetch_archives(source: WflwSourceConfig) -> DownloadConfig:
    """Download (resuming) or verify the WFLW archives; their verified digests key the dataset."""
    config, actions = fetch_wflw(source)
    get_run_logger().info("WFLW archives: %s", actions)
    return config


def gan_branch(run: StageRunner, config: GanConfig, data: DataRefs, *, backends: frozenset[str]) -> GanRefs:
    """Run the GAN branch of one profile; every stage is a cached task of ``run``'s store. The physical
    relighting runs when a selected row is relit with it; the StyleFlow path whenever the profile configures it."""
    dataset, index = data.dataset, data.index
    aligned = run(align, config.detect, dataset=dataset, index=index)
    filtered = run(filter_faces, config.filter, dataset=dataset, index=index, aligned=aligned)
    twin = config.segment_train.data == "twin"
    segmenter = run(segment_train, config.segment_train, **({"dataset": dataset, "index": index} if twin else {}))
    masks = run(segment, config.segment, filtered=filtered, trained=segmenter)
    pasted = run(paste, config.paste, dataset=dataset, index=index, filtered=filtered, masks=masks)
    refs = GanRefs(aligned=aligned, filtered=filtered, segmenter=segmenter, masks=masks, pasted=pasted)
    if "physical" in backends:
        refs = replace(refs, relit_physical=run(relight_physical, config.physical, dataset=dataset, index=index))
    if config.project is None:
        return refs
    projected = run(project, config.project, filtered=filtered)
    reviewed = review_gate(run, projected, config.review) if config.review is not None else None
    refs = replace(refs, projected=projected, reviewed=reviewed)
    if config.styleflow_path:
        refs = styleflow_path(run, config, data, refs)
        if "styleflow_edit" in backends and config.styleflow_edit is not None:
            refs = styleflow_edit_path(run, config, data, refs)
    return refs


def styleflow_path(run: StageRunner, config: GanConfig, data: DataRefs, refs: GanRefs) -> GanRefs:
    """attributes (of the accepted faces, when reviewed) -> relight_styleflow -> paste of the relit faces."""
    dataset, index = data.dataset, data.index
    conditions = run(
        attributes,
        config.attributes,
        dataset=dataset,
        index=index,
        filtered=refs.filtered,
        projected=refs.projected,
        reviewed=refs.reviewed,
    )
    flow_config = replace(config.styleflow, generator=config.project)  # render with the projection's generator
    relit = run(relight_styleflow, flow_config, filtered=refs.filtered, projected=refs.projected, attributes=conditions)
    relit_pasted: StageRef = run(
        paste,
        config.paste,
        label="relit",
        dataset=dataset,
        index=index,
        filtered=refs.filtered,
        masks=refs.masks,
        relit=relit,
    )
    return replace(refs, attributes=conditions, relit=relit, relit_pasted=relit_pasted)


def styleflow_edit_path(run: StageRunner, config: GanConfig, data: DataRefs, refs: GanRefs) -> GanRefs:
    """edit_styleflow (the profile's other attribute edit, on the StyleFlow path's conditions) -> paste "edited"."""
    edit_config = replace(config.styleflow_edit, generator=config.project)
    edited = run(
        edit_styleflow, edit_config, filtered=refs.filtered, projected=refs.projected, attributes=refs.attributes
    )
    pasted = run(
        paste,
        config.paste,
        label="edited",
        dataset=data.dataset,
        index=data.index,
        filtered=refs.filtered,
        masks=refs.masks,
        relit=edited,
    )
    return replace(refs, edited=edited, edited_pasted=pasted)


def trainable_rows(rows: list[ExperimentRow], gan: GanRefs | None) -> list[ExperimentRow]:
    """The rows that can train: a relit row needs its backend's relit faces (skipped, with a log line, without)."""
    ready = [r for r in rows if not r.relit or (gan is not None and gan.augmented_for(r.relit) is not None)]
    for row in [r for r in rows if r not in ready]:
        needs = {
            "styleflow": "[gan.project], [gan.attributes] and [gan.styleflow]",
            "styleflow_edit": "[gan.project], [gan.attributes], [gan.styleflow] and [gan.styleflow_edit]",
        }.get(row.relit, "[gan]")
        get_run_logger().info("row %s needs %s relit faces: the profile needs %s; skipped", row.name, row.relit, needs)
    return ready


def publish_report_artifacts(made: StageRef) -> None:
    """Show the report in the Prefect UI: the whole Markdown plus one table artifact per study table.

    Done in the flow, not in the (cached) report task, so every run of the flow shows its report.
    """
    output = made.output()
    folder = output.local_dir()
    markdown = artifact_markdown((folder / "report.md").read_text(), folder)  # the UI cannot reach the store
    create_markdown_artifact(markdown=markdown, key="eltrepro-report", description=f"{output.stage}/{output.key}")
    for path in sorted((folder / "tables").glob("table_*.csv")):
        table = pd.read_csv(path).round(3).astype(object)
        table = table.where(table.notna(), None)
        key = "table-" + path.stem.removeprefix("table_").replace(".", "-")
        create_table_artifact(table=table.to_dict(orient="records"), key=key, description=f"Table {path.stem[6:]}")
