"""The ``eltrepro`` command line."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.train_cli import register as register_training
from landmark_core.atomic import atomic_write
from landmark_core.download import WFLW_FILES, DownloadError, fetch_files
from landmark_core.subsets import SubsetConfig, compute_subsets, subset_table
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.wflw_index import index_wflw
from tasks.data import default_workers

app = typer.Typer(help="ELT-Repro: reproduce the ELT + GAN-relighting facial-landmark study.", no_args_is_help=True)
data_app = typer.Typer(help="WFLW data: fetch, synthesise, index.", no_args_is_help=True)
app.add_typer(data_app, name="data")
weights_app = typer.Typer(help="Published network weights: list, fetch.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")
review_app = typer.Typer(help="The manual review of projections: the page, or decisions from a file.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(review_app, name="review")
register_training(app)
console = Console(width=None if sys.stdout.isatty() else 120)

DEFAULT_STORE = Path("artifacts")


def _print_subsets(table: pd.DataFrame, title: str) -> None:
    view = Table(title=title)
    view.add_column("subset")
    for split in table.columns:
        view.add_column(split, justify="right")
    for name, row in table.iterrows():
        view.add_row(str(name), *(str(v) for v in row))
    console.print(view)


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., help="Destination folder (WFLW layout)."),
    train: int = typer.Option(600, help="Training images."),
    test: int = typer.Option(200, help="Test images."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same files."),
    workers: int = typer.Option(0, help="Rendering processes (0: one per core, at most 8)."),
) -> None:
    """Render the synthetic WFLW twin in the exact WFLW on-disk layout."""
    started = time.perf_counter()
    counts = synthesize_wflw(
        out=out, config=SynthConfig(train=train, test=test, seed=seed), workers=workers or default_workers()
    )
    console.print(f"wrote {counts} faces to {out} in {time.perf_counter() - started:.1f} s")


@data_app.command("index")
def data_index(
    root: Path = typer.Option(..., help="WFLW root holding WFLW_images/ and WFLW_annotations/."),
    out: Path = typer.Option(..., help="Folder for faces.parquet and quarantine.parquet."),
    pose: bool = typer.Option(True, help="Also estimate head pose and add the frontal subsets."),
) -> None:
    """Index a WFLW root: faces.parquet (one row per face) and quarantine.parquet (rejected lines)."""
    try:
        result = index_wflw(root=root)
    except FileNotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    faces = result.faces
    if pose:
        extra = compute_subsets(faces=faces, config=SubsetConfig())
        faces = faces.drop(columns=[c for c in faces.columns if c.startswith("in_")]).merge(
            extra.drop(columns=["split"]), on="face_id"
        )
    out.mkdir(parents=True, exist_ok=True)
    _atomic_parquet(faces, out / "faces.parquet")
    _atomic_parquet(result.quarantine, out / "quarantine.parquet")
    counts = faces["split"].value_counts().to_dict()
    console.print(f"indexed {len(faces)} faces {counts}; quarantined {len(result.quarantine)} lines")
    for reason, n in result.quarantine["reason"].str.split(":").str[0].value_counts().items():
        console.print(f"  quarantined: {n} x {reason}")
    if pose:
        _print_subsets(subset_table(faces), "faces per subset")


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


@data_app.command("fetch")
def data_fetch(
    dest: Path = typer.Option(..., help="Destination folder for the archives and the extracted WFLW root."),
    mirror: str = typer.Option(None, help="Base URL replacing the official locations (<mirror>/<file name>)."),
    sha256: list[str] = typer.Option([], help="NAME=HEX digest for a file (repeatable)."),
    trust_first_download: bool = typer.Option(False, help="Pin the digest of files the project has none for."),
) -> None:
    """Download and extract the real WFLW images and annotations (resumable, checksummed, safe)."""
    digests = dict(item.split("=", 1) for item in sha256)
    try:
        report = fetch_files(
            files=WFLW_FILES, dest=dest, mirror=mirror, sha256=digests,
            trust_first_download=trust_first_download, progress=_progress_printer(),
        )  # fmt: skip
    except DownloadError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    for name, action in report.actions.items():
        console.print(f"{name}: {action} (sha256 {report.sha256[name]})")


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
    """Download published weights (resumable, checksummed) for the project stage."""
    from tasks.project import fetch_weights

    try:
        report = fetch_weights(names=names, dest=dest, mirror=mirror, sha256=dict(i.split("=", 1) for i in sha256),
                               trust_first_download=trust_first_download, progress=_progress_printer())  # fmt: skip
    except (DownloadError, KeyError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    for name, action in report.actions.items():
        console.print(f"{name}: {action} (sha256 {report.sha256[name]})")


@app.command("run")
def run(
    profile: str = typer.Option("demo", help="A profile name in flows/profiles/ (demo), or a path to a .toml profile."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    experiments: str = typer.Option(None, help="Comma-separated matrix rows to train (default: all)."),
    local: bool = typer.Option(
        True,
        "--local/--pool",
        help="Train rows in this process, or on the GPU work pool "
        "as flow runs of the train-experiment deployment (needs a Prefect server).",
    ),
) -> None:
    """Run the Prefect DAG of a profile: data -> index -> subsets -> train/evaluate per row -> report."""
    # The temporary local server would try to send usage telemetry (and log an error offline); a user's own
    # setting wins.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.reproduce import reproduce  # Prefect is imported only by the commands that use it
    from tasks.progress import listening

    rows = [r.strip() for r in experiments.split(",")] if experiments else None
    started = time.perf_counter()
    by_path = {"profile_file": profile} if profile.endswith(".toml") else {"profile": profile}
    try:
        with _progress_bar() as listener, listening(listener):
            refs = reproduce(store=store, experiments=rows, local=local, **by_path)
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    _settle_events()
    report = refs.pop("report")["report"].output().local_dir()
    for name, outputs in refs.items():
        console.print(f"{name}: " + ", ".join(f"{k} {v.stage}/{v.key}" for k, v in outputs.items()))
    console.print(f"report: {report / 'report.md'} (also report.html, tables/*.csv, figures/*.png)")
    console.print(f"done in {time.perf_counter() - started:.1f} s (store {store})")


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
    columns = (TextColumn("{task.description:<24}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        lines: dict[str, TaskID] = {}

        def listener(name: str, fraction: float) -> None:
            if name not in lines:
                lines[name] = bar.add_task(name, total=1.0)
            bar.update(lines[name], completed=fraction)

        yield listener


@app.command("demo")
def demo(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
) -> None:
    """The demo profile end to end: synthetic twin -> index -> subsets -> every Table 4.1 row -> report."""
    console.print("demo profile (flows/profiles/demo.toml): synthetic WFLW twin, small budgets; store " + store)
    run(profile="demo", store=store, experiments=None, local=True)


if __name__ == "__main__":
    app()


@review_app.command("serve")
def review_serve(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store holding the projections."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (set a --token when not loopback)."),
    port: int = typer.Option(8765, help="Port."),
    token: str = typer.Option(None, help="Require ?token=... (or the X-Review-Token header) on every request."),
) -> None:
    """Serve the review page: decide pending projections with the keyboard; submit resumes paused runs."""
    import uvicorn

    from flows.review_app import create_app

    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        console.print("[red]error:[/red] binding beyond loopback needs --token")
        raise typer.Exit(2)
    console.print(f"review page: http://{host}:{port}/" + (f"?token={token}" if token else ""))
    uvicorn.run(create_app(store=store, token=token), host=host, port=port, log_level="warning")


@review_app.command("apply")
def review_apply(
    decisions: Path = typer.Option(..., help="CSV with face_id, decision (accept/reject)[, reason, reviewer]."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store holding the projections."),
    reviewer: str = typer.Option("", help="Reviewer name for rows without one."),
    resume: bool = typer.Option(True, help="Resume paused reproduce runs afterwards."),
) -> None:
    """Write decisions from a file (no browser) and resume paused runs."""
    import asyncio

    from flows.review_app import resume_paused_runs, review_catalog
    from tasks.review import DecisionError, append_decisions, check_decisions, file_decisions, read_decisions
    from tasks.stage import Store

    target = Store(store)
    try:
        rows = file_decisions(decisions, reviewer=reviewer)
        known = set(review_catalog(target)["detection_id"])
        problems = check_decisions(rows, pending=set(), known=known)
        if problems:
            raise DecisionError(f"{decisions}: " + "; ".join(problems))
        written = append_decisions(target, rows)
    except (DecisionError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    left = len(known - set(read_decisions(target)["face_id"]))
    console.print(f"{written} decision(s) written; {left} face(s) still pending")
    if resume and written:
        console.print(f"resumed flow runs: {asyncio.run(resume_paused_runs(reviewer or 'file')) or 'none paused'}")
