"""The ``reproduce`` flow: the design's stage diagram, read top to bottom.

    data:    synth_wflw | fetch + download_wflw  ->  index_wflw  ->  subsets
    GAN:     flows/gan_branch.py (align -> filter_faces -> ... -> the relit faces), when the profile has [gan]
    rows:    train_landmarks -> evaluate_landmarks, per experiment row (relit rows add the relit faces)
    report:  report (every evaluated row, the GAN branch's outputs)

Every stage is a cached Prefect task derived from its definition in ``tasks/<stage>.py``: a re-run computes
only what is missing, and changing one row's config re-runs only that row's training and evaluation, and
the report. With ``local=False`` each unfinished row is a flow run of the ``train-experiment`` deployment on the
GPU pool; the rows' stages below are then cache hits that return the pool's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.deployments import run_deployment
from prefect.futures import wait

from flows.experiments import ExperimentRow, load_matrix, load_published, row_config, select_rows
from flows.gan_branch import gan_branch
from flows.run_profile import Profile, load_profile, profile_path
from flows.refs import DataRefs, GanRefs, Reproduction
from flows.train_experiment import DEPLOYMENT, row_complete, train_row
from landmark_core.config import to_dict
from tasks.dataset_tree import default_workers
from tasks.download_wflw import DownloadConfig, WflwSourceConfig, download_wflw, fetch_wflw
from tasks.index_wflw import IndexConfig, index_wflw
from tasks.prefect_stage import StageRef, StageRunner
from tasks.report import ReportConfig, report
from tasks.stage import Runtime
from tasks.subsets import subsets
from tasks.synth_wflw import synth_wflw


@flow(name="reproduce")
def reproduce(
    profile: str = "demo",
    store: str = "artifacts",
    experiments: list[str] | None = None,
    profile_file: str | None = None,
    local: bool = True,
    deployment: str = DEPLOYMENT,
) -> Reproduction:
    """Run the graph of one profile.

    Args:
        profile: name of a file in ``flows/profiles/``.
        store: artifact store (local path or fsspec URL).
        experiments: matrix rows to train (all when None).
        profile_file: an explicit profile path (overrides ``profile``).
        local: train the rows in this process; False runs each row as a flow run of ``deployment`` (the GPU
            pool) and waits for all of them.
        deployment: ``<flow>/<deployment>`` of the train-experiment deployment.

    Returns:
        The stage references of the data branch, the GAN branch, every row and the report.
    """
    prof = load_profile(profile_path(profile_file or profile))
    rows = select_rows(load_matrix(prof.matrix, base=prof.train), experiments)  # bad names fail before any work
    weights = prof.gan.weights_dir if prof.gan else ""
    run = StageRunner(store=store, runtime=Runtime(device=prof.device, workers=default_workers(), weights_dir=weights))

    data = data_branch(run, prof)
    gan = gan_branch(run, prof.gan, data) if prof.gan is not None else None
    rows = trainable_rows(rows, gan)
    if not local:
        launch_rows(run, rows, prof, data, deployment, gan)
    trained = {
        row.name: train_row(
            run,
            row=row.name,
            config=row_config(base=prof.train, row=row),
            data=data,
            augmented=gan.augmented if gan and row.relit else None,
        )
        for row in rows
    }
    config = ReportConfig(tags=tuple((r.name, r.tables) for r in rows), published=load_published(prof.published))
    evaluations = {name: refs.evaluated for name, refs in trained.items()}
    gan_inputs = gan.report_inputs() if gan else {}
    made = run(report, config, evaluations=evaluations, dataset=data.dataset, index=data.index, **gan_inputs)
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


def trainable_rows(rows: list[ExperimentRow], gan: GanRefs | None) -> list[ExperimentRow]:
    """The rows that can train: relit rows need the GAN branch's relit faces (skipped, with a log line, without)."""
    if gan is not None and gan.augmented is not None:
        return rows
    for row in [r for r in rows if r.relit]:
        get_run_logger().info("row %s needs relit faces: set gan.relight_backend in the profile; skipped", row.name)
    return [r for r in rows if not r.relit]


@task(name="run-train-experiment")
def launch_row(deployment: str, row: str, parameters: dict) -> str:
    """Run one row as a flow run of the ``train-experiment`` deployment and wait for it; returns its id."""
    run = run_deployment(
        name=deployment, parameters=parameters, flow_run_name=f"train-{row}", timeout=None, poll_interval=2
    )
    if run.state is None or not run.state.is_completed():
        raise RuntimeError(f"row {row}: flow run {run.name} ({run.id}) ended {run.state.name if run.state else None}")
    return str(run.id)


def check_deployment(deployment: str) -> None:
    """Fail early, naming the fix, when the train-experiment deployment is not on the Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(deployment)
        except ObjectNotFound as err:
            raise ValueError(
                f"deployment {deployment!r} is not on the Prefect server at {client.api_url}; "
                "create it with `prefect --no-prompt deploy --all` (prefect.yaml) or run with --local"
            ) from err


@dataclass(frozen=True)
class _Launch:
    row: ExperimentRow
    parameters: dict


def launch_rows(
    run: StageRunner, rows: list[ExperimentRow], prof: Profile, data: DataRefs, deployment: str, gan: GanRefs | None
) -> None:
    """Start every unfinished row on the GPU pool at once; wait for all (failures raise after all ended)."""
    launches = []
    for row in rows:
        config = row_config(base=prof.train, row=row)
        augmented = gan.augmented if gan and row.relit else None
        if row_complete(run, config=config, data=data, augmented=augmented):
            continue
        parameters = {"store": run.store, "row": row.name, "config": to_dict(config), "device": prof.device}
        parameters |= {name: ref.model_dump() for name, ref in vars(data).items()}
        if augmented is not None:
            parameters["augmented"] = augmented.model_dump()
        launches.append(_Launch(row=row, parameters=parameters))
    if launches:
        check_deployment(deployment)
    futures = [
        launch_row.with_options(task_run_name=f"launch-{item.row.name}").submit(
            deployment=deployment, row=item.row.name, parameters=item.parameters
        )
        for item in launches
    ]
    wait(futures)
    for future in futures:
        future.result()


def publish_report_artifacts(made: StageRef) -> None:
    """Show the report in the Prefect UI: the whole Markdown plus one table artifact per study table.

    Done in the flow, not in the (cached) report task, so every run of the flow shows its report.
    """
    output = made.output()
    folder = output.local_dir()
    create_markdown_artifact(
        markdown=(folder / "report.md").read_text(), key="eltrepro-report", description=f"{output.stage}/{output.key}"
    )
    for path in sorted((folder / "tables").glob("table_*.csv")):
        table = pd.read_csv(path).round(3).astype(object)
        table = table.where(table.notna(), None)
        key = "table-" + path.stem.removeprefix("table_").replace(".", "-")
        create_table_artifact(table=table.to_dict(orient="records"), key=key, description=f"Table {path.stem[6:]}")
