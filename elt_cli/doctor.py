"""``eltrepro doctor`` (everything a run of a profile needs, one line per problem with its fix) and ``eltrepro
wait-server`` (until the Prefect server answers). The checks themselves are ``elt_cli.preflight``, imported when a
command runs, so the command line answers ``--help`` and its input checks at once."""

from __future__ import annotations

import os
import time

import typer

from elt_cli.console import console
from elt_cli.options import DEFAULT_STORE
from landmark_core.config import ConfigError


def doctor_command(
    profile: str = typer.Option("demo", help="A profile name in elt_study/profiles/ or a path to a .toml profile."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store the run would use."),
    pool: bool = typer.Option(False, "--pool", help="Also check the server, the GPU pool's workers and the limit."),
) -> None:
    """Check everything a run of the profile needs; one line per problem with the command that fixes it."""
    from elt_cli.preflight import fetch_all_command, local_findings, pool_findings
    from elt_study.run_profile import load_profile, profile_path

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


def wait_server_command(
    timeout: float = typer.Option(60.0, min=0.0, help="Seconds to wait before giving up."),
) -> None:
    """Wait until the Prefect server of PREFECT_API_URL answers its health check (after `prefect server start &`,
    which returns before the server is up); one line and exit status 2 when it does not within --timeout."""
    url = os.environ.get("PREFECT_API_URL", "")
    if not url:
        raise ConfigError("PREFECT_API_URL is not set: export PREFECT_API_URL=http://127.0.0.1:4200/api first")
    from elt_cli.preflight import health_error

    started = time.monotonic()
    while (error := health_error(url)) is not None:
        if time.monotonic() - started > timeout:
            reason = str(error).partition("\n")[0] or type(error).__name__
            raise ConfigError(f"no Prefect server answered at {url} within {timeout:g} s ({reason})")
        time.sleep(0.5)
    console.print(f"Prefect server at {url}: healthy after {time.monotonic() - started:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``eltrepro doctor`` and ``eltrepro wait-server`` to the main app."""
    app.command("doctor")(doctor_command)
    app.command("wait-server")(wait_server_command)
