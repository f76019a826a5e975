"""The top-level Prefect flow: data (download or synthesise) -> index -> subsets -> (train -> evaluate) per
experiment row -> report.

Every stage is a cached task (``tasks.prefect_stages``): a re-run computes only what is missing, and changing
one row's settings re-runs only that row's training and evaluation, and the report. The GAN branch joins the
graph with its issues; rows marked ``relit`` need the GAN branch's augmented set and are skipped (with a
log line) until it exists.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.deployments import run_deployment
from prefect.futures import wait

from flows.experiments import MATRIX_DIR, ExperimentRow, load_matrix, row_config, select_rows
from flows.train_experiment import DEPLOYMENT, train_row
from landmark_core.config import from_dict, to_dict
from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from landmark_core.train import TrainConfig
from tasks.data import WflwSource
from tasks.prefect_gan import GanSettings, gan_branch
from tasks.prefect_stages import StageRef, cached, row_outputs_complete
from tasks.report import ReportParams

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Profile:
    """A run profile: where the data comes from, the base training config and the experiment matrix."""

    synth: SynthConfig
    train: TrainConfig
    matrix: Path
    published: Path = MATRIX_DIR / "published.toml"
    device: str = "auto"
    wflw: WflwSource | None = None  # the real WFLW (thesis); None renders the synthetic twin (demo)
    gan: GanSettings | None = None  # the GAN branch's settings; None leaves the branch out


def load_profile(path: Path) -> Profile:
    """Read a profile file (``flows/profiles/<name>.toml``); errors name the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
        synth = from_dict(SynthConfig, data.get("synth", {}), where="synth")
        train = from_dict(TrainConfig, data.get("train", {}), where="train")
        return Profile(synth=synth, train=train, matrix=MATRIX_DIR / data.get("matrix", "study.toml"),
                       device=data.get("device", "auto"), wflw=_data_source(dict(data.get("data", {}))),
                       gan=from_dict(GanSettings, data["gan"], where="gan") if "gan" in data else None)  # fmt: skip
    except (ValueError, TypeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{path}: {err}") from err


def _data_source(section: dict[str, Any]) -> WflwSource | None:
    """The ``[data]`` section: ``source = "synth"`` (default) or ``"wflw"`` with the WflwSource fields."""
    source = section.pop("source", "synth")
    if source == "synth":
        if section:
            raise ValueError(f"data: source 'synth' takes no other keys; got {sorted(section)}")
        return None
    if source != "wflw":
        raise ValueError(f"data: source must be 'synth' or 'wflw', got {source!r}")
    section["sha256"] = tuple(sorted(section.get("sha256", {}).items()))
    return from_dict(WflwSource, section, where="data")


@task(name="run-train-experiment")
def launch_row(deployment: str, row: str, parameters: dict[str, Any]) -> str:
    """Run one row as a flow run of the ``train-experiment`` deployment and wait for it; returns its id."""
    run = run_deployment(name=deployment, parameters=parameters, flow_run_name=f"train-{row}", timeout=None,
                         poll_interval=2)  # fmt: skip
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
            raise ValueError(f"deployment {deployment!r} is not on the Prefect server at {client.api_url}; "
                             "create it with `prefect --no-prompt deploy --all` (prefect.yaml) or run with "
                             "--local") from err  # fmt: skip


def _launch_rows(store: str, rows: list[ExperimentRow], prof: Profile, data: dict[str, StageRef], deployment: str,
                 augmented: StageRef | None = None):  # fmt: skip
    """Start every unfinished row on the GPU pool at once; wait for all (failures raise after all ended)."""
    configs = {row.name: row_config(base=prof.train, row=row) for row in rows}
    extra = {row.name: augmented if row.relit else None for row in rows}
    pending = [r for r in rows if not row_outputs_complete(store=store, config=configs[r.name], data=data,
                                                           augmented=extra[r.name])]  # fmt: skip
    if pending:
        check_deployment(deployment)
    futures = []
    for row in pending:
        config = configs[row.name]
        parameters = {"store": store, "row": row.name, "config": to_dict(config), "device": prof.device,
                      **{name: ref.model_dump() for name, ref in data.items()}}  # fmt: skip
        if extra[row.name] is not None:
            parameters["augmented"] = extra[row.name].model_dump()
        futures.append(launch_row.with_options(task_run_name=f"launch-{row.name}").submit(
            deployment=deployment, row=row.name, parameters=parameters))  # fmt: skip
    wait(futures)
    for future in futures:
        future.result()


@flow(name="reproduce")
def reproduce(
    profile: str = "demo",
    store: str = "artifacts",
    experiments: list[str] | None = None,
    profile_file: str | None = None,
    local: bool = True,
    deployment: str = DEPLOYMENT,
) -> dict[str, dict[str, StageRef]]:
    """Run the DAG of one profile.

    Args:
        profile: name of a file in ``flows/profiles/``.
        store: artifact store (local path or fsspec URL).
        experiments: matrix rows to train (all when None).
        profile_file: an explicit profile path (overrides ``profile``).
        local: train the rows in this process; False runs each row as a flow run of ``deployment`` (the GPU
            pool) and waits for all of them.
        deployment: ``<flow>/<deployment>`` of the train-experiment deployment.

    Returns:
        ``{"data": {dataset, index, subsets}, "gan": {aligned, ...} (when the profile has [gan]),
        "<row>": {trained, evaluated}, ..., "report": {report}}`` as stage references.
    """
    logger = get_run_logger()
    prof = load_profile(Path(profile_file) if profile_file else PROFILE_DIR / f"{profile}.toml")
    rows = select_rows(load_matrix(prof.matrix, base=prof.train), experiments)  # bad names fail before any work
    tasks = cached(store)
    if prof.wflw is not None:
        dataset = tasks["download"](store=store, source=prof.wflw)
    else:
        dataset = tasks["synth"](store=store, config=prof.synth)
    index = tasks["index"](store=store, dataset=dataset)
    subsets = tasks["subsets"](store=store, index=index, config=SubsetConfig())
    refs = {"dataset": dataset, "index": index, "subsets": subsets}
    out: dict[str, dict[str, StageRef]] = {"data": refs}
    if prof.gan is not None:
        out["gan"] = gan_branch(store, prof.gan, refs)
    augmented = out.get("gan", {}).get("augmented")
    if augmented is None:
        for row in [r for r in rows if r.relit]:
            logger.info("row %s needs relit faces: set gan.relight_backend in the profile; skipped", row.name)
        rows = [r for r in rows if not r.relit]
    if not local:  # the rows train on the pool; below, their stages are cache hits that return the outputs
        _launch_rows(store, rows, prof, refs, deployment, augmented)
    for row in rows:
        config = row_config(base=prof.train, row=row)
        out[row.name] = train_row(tasks, store=store, row=row.name, config=config, data=refs, device=prof.device,
                                  augmented=augmented if row.relit else None)  # fmt: skip
    evaluations = {name: o["evaluated"] for name, o in out.items() if name not in ("data", "gan")}
    params = ReportParams(tags=tuple((r.name, r.tables) for r in rows if r.name in evaluations),
                          published=load_published(prof.published))  # fmt: skip
    out["report"] = {"report": tasks["report"](store=store, evaluations=evaluations, params=params,
                                               dataset=dataset, index=index, gan=out.get("gan"))}  # fmt: skip
    publish_report_artifacts(out["report"]["report"])
    return out


def publish_report_artifacts(report: StageRef) -> None:
    """Show the report in the Prefect UI: the whole Markdown plus one table artifact per study table.

    Done in the flow, not in the (cached) report task, so every run of the flow shows its report.
    """
    output = report.output()
    folder = output.local_dir()
    create_markdown_artifact(markdown=(folder / "report.md").read_text(), key="eltrepro-report",
                             description=f"{output.stage}/{output.key}")  # fmt: skip
    for path in sorted((folder / "tables").glob("table_*.csv")):
        table = pd.read_csv(path).round(3).astype(object)
        table = table.where(table.notna(), None)
        key = "table-" + path.stem.removeprefix("table_").replace(".", "-")
        create_table_artifact(table=table.to_dict(orient="records"), key=key, description=f"Table {path.stem[6:]}")


def load_published(path: Path) -> tuple[tuple[tuple[str, str, str], float], ...]:
    """The study's published cells ((table, row, subset), value) from ``flows/experiments/published.toml``."""
    try:
        cells = tomllib.loads(Path(path).read_text()).get("cell", [])
        return tuple(((c["table"], c["row"], subset), float(v)) for c in cells for subset, v in c["values"].items())
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{path}: each [[cell]] needs table, row and values: {err}") from err
