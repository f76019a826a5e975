"""The ``eltrepro`` command line.

Heavy libraries (torch, Prefect, pandas, OpenCV) are imported by the commands that use them, so ``--help`` and
every input check answer at once. Every input mistake (an unknown profile or row, bad TOML, a bad value, a
missing file, a bad ``--device`` or ``--sha256``) is one line on stderr and exit status 2, before any Prefect
server starts: ``main`` turns the project's input errors into that line; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import typer

from flows.console import console, err_console
from flows.models_cli import register as register_models
from flows.train_cli import register as register_training
from landmark_core.config import ConfigError

app = typer.Typer(
    help="ELT-Repro: reproduce the ELT + GAN-relighting facial-landmark study.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="WFLW data: fetch, synthesise, index.", no_args_is_help=True)
app.add_typer(data_app, name="data")
weights_app = typer.Typer(help="Published network weights: list, fetch.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")
review_app = typer.Typer(
    help="The manual review of projections: the page, or decisions from a file.", no_args_is_help=True
)
app.add_typer(review_app, name="review")
stage_app = typer.Typer(
    help="The pipeline's stages, from their definitions: list, show, run one.", no_args_is_help=True
)
app.add_typer(stage_app, name="stage")
register_training(app)
register_models(app)

DEFAULT_STORE = Path("artifacts")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_digests(items: list[str], *, option: str = "--sha256") -> dict[str, str]:
    """``NAME=HEX`` items as a dict; ConfigError naming the item when one is malformed."""
    digests = {}
    for item in items:
        name, sep, digest = item.partition("=")
        if not sep or not name or not HEX64.fullmatch(digest):
            raise ConfigError(f"{option} {item!r}: expected NAME=HEX with a 64-digit hex sha256")
        digests[name] = digest.lower()
    return digests


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., help="Destination folder (WFLW layout)."),
    train: int = typer.Option(600, help="Training images."),
    test: int = typer.Option(200, help="Test images."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same files."),
    workers: int = typer.Option(0, help="Rendering processes (0: one per core, at most 8)."),
) -> None:
    """Render the synthetic WFLW twin in the exact WFLW on-disk layout."""
    from landmark_core.config import from_dict
    from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
    from tasks.dataset_tree import default_workers

    if workers < 0:
        raise ConfigError(f"--workers {workers}: expected 0 (one per core) or more rendering processes")
    config = from_dict(SynthConfig, {"train": train, "test": test, "seed": seed}, where="options")
    started = time.perf_counter()
    counts = synthesize_wflw(out=out, config=config, workers=workers or default_workers())
    console.print(f"wrote {counts} faces to {out} in {time.perf_counter() - started:.1f} s")


@data_app.command("index")
def data_index(
    root: Path = typer.Option(..., help="WFLW root holding WFLW_images/ and WFLW_annotations/."),
    out: Path = typer.Option(..., help="Folder for faces.parquet and quarantine.parquet."),
    pose: bool = typer.Option(True, help="Also estimate head pose and add the frontal subsets."),
) -> None:
    """Index a WFLW root: faces.parquet (one row per face) and quarantine.parquet (rejected lines)."""
    from landmark_core.atomic import atomic_write
    from landmark_core.subsets import STUDY_TEST_COUNTS, SubsetConfig, compute_subsets, subset_table
    from landmark_core.wflw_index import index_wflw

    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder")
    result = index_wflw(root=root)
    faces = result.faces
    if pose:
        extra = compute_subsets(faces=faces, config=SubsetConfig())
        faces = faces.drop(columns=[c for c in faces.columns if c.startswith("in_")]).merge(
            extra.drop(columns=["split"]), on="face_id"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("faces", faces), ("quarantine", result.quarantine)):
        atomic_write(out / f"{name}.parquet", lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
    counts = faces["split"].value_counts().to_dict()
    console.print(f"indexed {len(faces)} faces {counts}; quarantined {len(result.quarantine)} lines")
    for reason, n in result.quarantine["reason"].str.split(":").str[0].value_counts().items():
        console.print(f"  quarantined: {n} x {reason}")
    if pose:
        table = subset_table(faces)
        table["study (test)"] = [STUDY_TEST_COUNTS.get(name, "") for name in table.index]
        _print_table(table, "faces per subset", "subset")
        no_pose = faces[faces["pose_status"] != "ok"]
        if len(no_pose):
            console.print(
                f"  {len(no_pose)} face(s) without a head pose (NaN angles, not frontal), e.g. "
                f"{no_pose['face_id'].iloc[0]}: {no_pose['pose_status'].iloc[0]}"
            )


def _print_table(table, title: str, index_name: str) -> None:
    from rich.table import Table

    view = Table(title=title)
    view.add_column(index_name)
    for column in table.columns:
        view.add_column(str(column), justify="right")
    for name, row in table.iterrows():
        view.add_row(str(name), *(str(v) for v in row))
    console.print(view)


@data_app.command("fetch")
def data_fetch(
    dest: Path = typer.Option(..., help="Destination folder for the archives and the extracted WFLW root."),
    mirror: str = typer.Option(None, help="Base URL replacing the official locations (<mirror>/<file name>)."),
    sha256: list[str] = typer.Option([], help="NAME=HEX digest for a file (repeatable)."),
    trust_first_download: bool = typer.Option(False, help="Pin the digest of files the project has none for."),
) -> None:
    """Download and extract the real WFLW images and annotations (resumable, checksummed, safe)."""
    digests = parse_digests(sha256)
    from tasks.download_wflw import WflwSourceConfig, fetch_wflw

    source = WflwSourceConfig(
        dest=str(dest), mirror=mirror, sha256=tuple(sorted(digests.items())), trust_first_download=trust_first_download
    )
    config, actions = fetch_wflw(source, progress=_progress_printer())
    for name, digest in config.sha256:
        console.print(f"{name}: {actions[name]} (sha256 {digest})")


def _progress_printer():
    last: dict[str, float] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if time.monotonic() - last.get(name, 0.0) > 2.0:
            last[name] = time.monotonic()
            console.print(f"  {name}: {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""))

    return progress


@weights_app.command("list")
def weights_list() -> None:
    """The published weights the project knows: name, file, URL, digest, licence."""
    from gan_core.published import WEIGHTS

    for name, remote in WEIGHTS.items():
        digest = remote.sha256 or "(none published: pin the first download)"
        console.print(f"[bold]{name}[/bold]: {remote.name}\n  {remote.url}\n  sha256 {digest}\n  {remote.note}")


@weights_app.command("fetch")
def weights_fetch(
    names: list[str] = typer.Argument(..., help="Registry names (see `eltrepro weights list`)."),
    dest: Path = typer.Option(Path("data/weights"), help="Destination folder (a profile's gan.weights_dir)."),
    mirror: str = typer.Option(None, help="Base URL replacing the official locations (<mirror>/<file name>)."),
    sha256: list[str] = typer.Option([], help="FILE=HEX digest for a file (repeatable)."),
    trust_first_download: bool = typer.Option(False, help="Pin the digest of files the project has none for."),
) -> None:
    """Download published weights (resumable, checksummed) for the GAN stages."""
    digests = parse_digests(sha256)
    from gan_core.published import WEIGHTS
    from tasks.published_weights import fetch_weights

    unknown = [n for n in names if n not in WEIGHTS]
    if unknown:
        raise ConfigError(f"unknown weights {unknown}; known: {', '.join(WEIGHTS)}")
    report = fetch_weights(
        names=names,
        dest=dest,
        mirror=mirror,
        sha256=digests,
        trust_first_download=trust_first_download,
        progress=_progress_printer(),
    )
    for name, action in report.actions.items():
        console.print(f"{name}: {action} (sha256 {report.sha256[name]})")


@app.command("run")
def run(
    profile: str = typer.Option("demo", help="A profile name in flows/profiles/ (demo), or a path to a .toml profile."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    experiments: str = typer.Option(
        None, help="Comma-separated matrix rows to train (default: the profile's `rows`, all when it names none)."
    ),
    local: bool = typer.Option(
        True,
        "--local/--pool",
        help="Train rows in this process, or on the GPU work pool as flow runs of the train-experiment deployment "
        "(needs a Prefect server).",
    ),
) -> None:
    """Run the Prefect graph of a profile: data -> index -> subsets -> train/evaluate per row -> report. The last
    line printed is the report's path."""
    from flows.run_profile import load_profile, plan_rows, profile_path

    rows = [r.strip() for r in experiments.split(",") if r.strip()] if experiments else None
    path = profile_path(profile)
    prof = load_profile(path)
    plan_rows(prof, rows)  # every input checked before Prefect starts
    last_line: list[str] = []  # printed at exit, after Prefect's own exit messages (handlers run last-in first-out)
    atexit.register(lambda: last_line and print(last_line[0], flush=True))
    _preflight(prof, profile_arg=profile, store=store, pool=not local)
    # The temporary local server would try to send usage telemetry (and log an error offline); a user's own
    # setting wins.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.reproduce import reproduce
    from kit.progress import listening

    started = time.perf_counter()
    with _progress_bar() as listener, listening(listener):
        result = reproduce(store=store, experiments=rows, local=local, profile_file=str(path))
    _settle_events()
    console.print(f"data: {_refs(result.data)}")
    if result.gan is not None:
        console.print(f"gan: {_refs(result.gan)}")
    for runs in result.rows.values():
        for name, refs in runs.items():
            console.print(f"{name}: {_refs(refs)}")
    report = result.report.output().local_dir()
    console.print(
        f"done in {time.perf_counter() - started:.1f} s (store {store}); the report (also report.html):", soft_wrap=True
    )
    last_line.append(str(report / "report.md"))  # plain (no wrapping), for scripts: `eltrepro report` finds it too


def _preflight(prof, *, profile_arg: str, store: str, pool: bool) -> None:
    """The cheap part of ``eltrepro doctor``: refuse to start a run that a missing item would stop later."""
    from flows.doctor import local_findings, pool_findings

    found = [f for f in local_findings(prof, profile_arg=profile_arg, store=store, pool=pool) if f.fatal]
    found += pool_findings(store=store, probe=False) if pool else []  # the probe's flow run is not cheap
    if found:
        lines = "\n".join(f"  {f.line()}" for f in found)
        raise PreflightError(f"the run would fail: {len(found)} problem(s) (see `eltrepro doctor`):\n{lines}")


class PreflightError(ConfigError):
    """A run refused before it starts; the message lists each problem with its fix (one line each)."""


def _refs(refs) -> str:
    return ", ".join(f"{name} {ref.stage}/{ref.key}" for name, ref in vars(refs).items() if ref is not None)


def _settle_events(timeout_s: float = 5.0, grace_s: float = 1.5) -> None:
    """Send the run's last events and give the temporary server time to record them before it stops.

    Without this the temporary local server (no PREFECT_API_URL) is stopped while it is still writing the
    last task-run events and prints a harmless but alarming traceback.
    """
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=timeout_s)
    if not os.environ.get("PREFECT_API_URL"):
        time.sleep(grace_s)


@contextlib.contextmanager
def _progress_bar():
    """A rich progress bar with one line per long stage that reports progress in this process."""
    from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<24}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        lines: dict[str, TaskID] = {}

        def listener(name: str, fraction: float) -> None:
            if name not in lines:
                lines[name] = bar.add_task(name, total=1.0)
            bar.update(lines[name], completed=fraction)

        yield listener


@app.command("doctor")
def doctor(
    profile: str = typer.Option("demo", help="A profile name in flows/profiles/ or a path to a .toml profile."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store the run would use."),
    pool: bool = typer.Option(False, "--pool", help="Also check the server, the GPU pool's workers and the limit."),
) -> None:
    """Check everything a run of the profile needs; one line per problem with the command that fixes it."""
    from flows.doctor import fetch_all_command, local_findings, pool_findings
    from flows.run_profile import load_profile, profile_path

    started = time.perf_counter()
    prof = load_profile(profile_path(profile))
    found = local_findings(prof, profile_arg=profile, store=store, pool=pool)
    found += pool_findings(store=store) if pool else []
    for finding in found:
        console.print(("[red]x[/red] " if finding.fatal else "[yellow]![/yellow] ") + finding.line(), soft_wrap=True)
    if any("fetch" in f.fix for f in found):
        console.print(f"every download at once: {fetch_all_command(profile)}", soft_wrap=True)
    verdict = "ready" if not found else f"{len(found)} problem(s), {sum(f.fatal for f in found)} would stop a run"
    console.print(f"doctor: profile {profile}: {verdict} ({time.perf_counter() - started:.1f} s)")
    if any(f.fatal for f in found):
        raise typer.Exit(1)


@app.command("fetch-all")
def fetch_all(
    profile: str = typer.Option("thesis", help="A profile name in flows/profiles/ or a path to a .toml profile."),
    trust_first_download: bool = typer.Option(
        False, help="Pin the digest of files the project has none for (WFLW, LFW parts and some weights)."
    ),
    mirror: str = typer.Option(None, help="One base URL for every file (<mirror>/<file name>), e.g. a lab mirror."),
) -> None:
    """Download, verify and pin every dataset and published weight the profile uses (resumable)."""
    from flows.doctor import needed_weights
    from flows.run_profile import load_profile, profile_path
    from gan_core.lfw_parts import LFW_PARTS_FILES
    from landmark_core.download import WFLW_FILES, fetch_files
    from tasks.published_weights import fetch_weights

    prof = load_profile(profile_path(profile))
    progress = _progress_printer()
    jobs: list[tuple[str, Callable[[], object]]] = []
    if prof.wflw is not None:
        wflw = prof.wflw
        trusted = trust_first_download or wflw.trust_first_download
        job = partial(fetch_files, files=WFLW_FILES, dest=Path(wflw.dest), mirror=mirror or wflw.mirror)
        jobs.append(("WFLW", partial(job, sha256=dict(wflw.sha256), trust_first_download=trusted, progress=progress)))
    gan = prof.gan
    if gan is not None and gan.segment_train.data == "lfw":
        lfw = gan.segment_train
        trusted = trust_first_download or lfw.lfw_trust_first_download
        job = partial(fetch_files, files=LFW_PARTS_FILES, dest=Path(lfw.lfw_dest), mirror=mirror or lfw.lfw_mirror)
        jobs.append(("LFW Part Labels", partial(job, trust_first_download=trusted, progress=progress)))
    names = needed_weights(prof)
    if gan is not None and gan.segment_train.data == "lfw" and gan.segment_train.vgg16_weights:
        names.append("vgg16-keras-notop")
    if names:
        job = partial(fetch_weights, names=names, dest=Path(gan.weights_dir or "data/weights"), mirror=mirror)
        jobs.append(("weights", partial(job, trust_first_download=trust_first_download, progress=progress)))
    for what, job in jobs:
        report = job()
        for name, action in report.actions.items():
            console.print(f"{what}: {name}: {action} (sha256 {report.sha256[name]})")
    console.print(f"fetch-all: profile {profile}: {len(jobs)} download set(s) ready")


@app.command("report")
def report_path(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    html: bool = typer.Option(False, "--html", help="Print the path of report.html instead of report.md."),
) -> None:
    """Print the path of the newest report in the store (the last one a run made)."""
    from kit.store import Store

    reports = Store(store).outputs("report")
    if not reports:
        raise ConfigError(f"{store}: no report yet; make one with `eltrepro run` (or `make demo`)")
    print(reports[0].local_dir() / ("report.html" if html else "report.md"))


@app.command("demo")
def demo(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
) -> None:
    """The demo profile end to end: synthetic twin -> index -> subsets -> the GAN branch -> the study's key
    contrasts (two seeds for the control and the best ELT row) -> report."""
    console.print("demo profile (flows/profiles/demo.toml): synthetic WFLW twin, small budgets; store " + store)
    run(profile="demo", store=store, experiments=None, local=True)


@stage_app.command("list")
def stage_list() -> None:
    """Every stage: name, version, config type, inputs, and the code version of its import closure."""
    from tasks.registry import all_stages

    for stage in all_stages().values():
        inputs = ", ".join(
            f"{i.name}{'?' if i.kind == 'optional' else '*' if i.kind == 'family' else ''}" for i in stage.inputs
        )
        console.print(
            f"[bold]{stage.name}[/bold] v{stage.version}  config {stage.config_type.__name__}  "
            f"inputs ({inputs or '-'})  code {stage.code_version()}  [{stage.module}]" + ("  gpu" if stage.gpu else "")
        )


@stage_app.command("show")
def stage_show(name: str = typer.Argument(..., help="A stage name (see `eltrepro stage list`).")) -> None:
    """One stage: its definition, its config's defaults, and the modules its code version covers."""
    import dataclasses
    import json

    from kit.store import canonical_json

    stage = _stage(name)
    console.print(f"[bold]{stage.name}[/bold] v{stage.version}, defined in {stage.module}")
    console.print((stage.fn.__doc__ or "").strip())
    console.print(f"inputs: {[(i.name, i.kind) for i in stage.inputs]}")
    fields = dataclasses.fields(stage.config_type)
    if all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING for f in fields):
        console.print(
            f"config {stage.config_type.__name__} defaults: {json.loads(canonical_json(stage.config_type()))}"
        )
    console.print(f"code version {stage.code_version()} over: {', '.join(stage.modules())}")


def _stage(name: str):
    from tasks.registry import all_stages

    stages = all_stages()
    if name not in stages:
        raise ConfigError(f"unknown stage {name!r}; stages: {', '.join(stages)}")
    return stages[name]


@stage_app.command("run")
def stage_run(
    name: str = typer.Argument(..., help="A stage name (see `eltrepro stage list`)."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    config: Path = typer.Option(None, help="TOML or JSON file with the stage's config (default: its defaults)."),
    input_: list[str] = typer.Option(
        [], "--input", help="NAME=STAGE/KEY of an upstream output (repeatable; a family member: NAME:MEMBER=...)."
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:<n>."),
    weights_dir: str = typer.Option("", help="Folder of the published weights (GAN stages)."),
) -> None:
    """Run one stage outside Prefect (the same key and output as in the flow); prints its output."""
    from kit.stage import Runtime
    from kit.store import Store
    from landmark_core.config import load_config
    from landmark_core.device import check_device
    from tasks.dataset_tree import default_workers

    stage = _stage(name)
    check_device(device)
    settings = load_config(stage.config_type, config) if config else _default_config(stage)
    target = Store(store)
    inputs: dict = {}
    for item in input_:
        role, sep, ref = item.partition("=")
        upstream, _, key = ref.partition("/")
        if not sep or not key:
            raise ConfigError(f"--input {item!r}: expected NAME=STAGE/KEY")
        if not target.is_complete(upstream, key):
            raise ConfigError(f"--input {item!r}: no complete output {upstream}/{key} in {store}")
        family, _, member = role.partition(":")
        if member:
            inputs.setdefault(family, {})[member] = target.output(upstream, key)
        else:
            inputs[role] = target.output(upstream, key)
    try:
        stage.input_digests(inputs)
    except TypeError as error:
        raise ConfigError(str(error)) from None
    runtime = Runtime(device=device, workers=default_workers(), weights_dir=weights_dir)
    output, computed = stage.run(store=target, config=settings, runtime=runtime, **inputs)
    console.print(f"{output.stage}/{output.key} ({'computed' if computed else 'already complete'}): {output.path}")


def _default_config(stage):
    try:
        return stage.config_type()
    except TypeError:
        raise ConfigError(
            f"stage {stage.name}: its config {stage.config_type.__name__} has no defaults; give --config"
        ) from None


@review_app.command("serve")
def review_serve(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store holding the projections."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8765, help="Port."),
    token: str = typer.Option(None, help="The page's secret (default: a new one per session, shown in the URL)."),
    hostname: list[str] = typer.Option(
        [], help="A host name the page is reached by, besides loopback and --host (repeatable)."
    ),
) -> None:
    """Serve the review page: decide pending projections with the keyboard; submit resumes paused runs."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected a TCP port, 1 to 65535")
    import uvicorn

    from flows.review_app import create_app, new_token

    token = token or new_token()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"review page: http://{shown}:{port}/?token={token}")
    app = create_app(store=store, token=token, hosts=(host, *hostname))
    uvicorn.run(app, host=host, port=port, log_level="warning")


@review_app.command("apply")
def review_apply(
    decisions: Path = typer.Option(..., help="CSV with face_id, decision (accept/reject)[, reason, reviewer]."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store holding the projections."),
    reviewer: str = typer.Option("", help="Reviewer name for rows without one."),
    resume: bool = typer.Option(True, help="Resume the runs paused at a review of this store afterwards."),
) -> None:
    """Write decisions from a file (no browser) and resume paused runs."""
    import asyncio

    from flows.review_app import resume_paused_runs, review_catalog
    from kit.store import Store
    from tasks.decisions import DecisionError, append_decisions, check_decisions, file_decisions, read_decisions

    if not decisions.is_file():
        raise ConfigError(f"{decisions}: no such file")
    target = Store(store)
    rows = file_decisions(decisions, reviewer=reviewer)
    known = set(review_catalog(target)["detection_id"])
    problems = check_decisions(rows, pending=set(), known=known)
    if problems:
        raise DecisionError(f"{decisions}: " + "; ".join(problems))
    written = append_decisions(target, rows)
    left = len(known - set(read_decisions(target)["face_id"]))
    console.print(f"{written} decision(s) written; {left} face(s) still pending")
    if resume and written:
        resumed = asyncio.run(resume_paused_runs(reviewer or "file", store))
        console.print(f"resumed flow runs: {resumed or 'none paused on this store'}")


def input_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean a mistake in the user's input (one line, no traceback)."""
    errors: list[type[BaseException]] = [ConfigError, FileNotFoundError]
    known = (
        ("landmark_core.download", "DownloadError"),
        ("tasks.decisions", "DecisionError"),
        ("landmark_core.weights_file", "WeightsFileError"),
        ("gan_core.safe_pickle", "UnsafePickleError"),
    )
    for module, name in known:
        loaded = sys.modules.get(module)  # only where already imported: the check must not import them
        if loaded is not None:
            errors.append(getattr(loaded, name))
    return tuple(errors)


def main() -> None:
    """The ``eltrepro`` entry point: the app, with input mistakes as one line on stderr and exit status 2."""
    try:
        app()
    except Exception as error:
        if not isinstance(error, input_errors()):
            raise
        err_console.print(f"[red]error:[/red] {error}", soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
