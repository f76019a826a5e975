"""``eltrepro run``, ``demo`` and ``report``: the Prefect graph of a profile, and where its report is."""

from __future__ import annotations

import atexit
import contextlib
import os
import time

import typer

from elt_cli.console import console
from elt_cli.options import DEFAULT_STORE
from elt_cli.temporary_server import start_temporary_server
from landmark_core.config import ConfigError


def run(
    profile: str = typer.Option(
        "demo", help="A profile name in elt_study/profiles/ (demo), or a path to a .toml profile."
    ),
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
    from elt_study.run_profile import load_profile, plan_rows, profile_path

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
    start_temporary_server()  # without a server: one start per home at a time, a long allowance, one-line failure
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
    from elt_cli.preflight import local_findings, pool_findings

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


def report_path(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    html: bool = typer.Option(False, "--html", help="Print the path of report.html instead of report.md."),
) -> None:
    """Print the path of the newest report in the store (the last one a run made)."""
    from kit.store import Store

    reports = Store(store, create=False).outputs("report")  # only reads: a missing store is not created
    if not reports:
        raise ConfigError(f"{store}: no report yet; make one with `eltrepro run` (or `make demo`)")
    print(reports[0].local_dir() / ("report.html" if html else "report.md"))


def demo(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
) -> None:
    """The demo profile end to end: synthetic twin -> index -> subsets -> the GAN branch -> the study's key
    contrasts (two seeds for the control and the best ELT row) -> report."""
    console.print("demo profile (elt_study/profiles/demo.toml): synthetic WFLW twin, small budgets; store " + store)
    run(profile="demo", store=store, experiments=None, local=True)


def register(app: typer.Typer) -> None:
    """Add ``eltrepro run``, ``demo`` and ``report`` to the main app."""
    app.command("run")(run)
    app.command("demo")(demo)
    app.command("report")(report_path)
