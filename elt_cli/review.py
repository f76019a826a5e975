"""``eltrepro review``: the manual review of projections, on the page or from a file."""

from __future__ import annotations

from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import DEFAULT_STORE, existing_store
from landmark_core.config import ConfigError

review_app = typer.Typer(
    help="The manual review of projections: the page, or decisions from a file.", no_args_is_help=True
)


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

    from elt_review.review_app import create_app, new_token

    existing_store(store)  # the page shows a store's projections: a missing one is a mistake, not created
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

    from flows.review_resume import resume_paused_runs
    from tasks.decisions import DecisionError, append_decisions, check_decisions, file_decisions, read_decisions
    from tasks.review_catalog import review_catalog

    if not decisions.is_file():
        raise ConfigError(f"{decisions}: no such file")
    rows = file_decisions(decisions, reviewer=reviewer)
    target = existing_store(store)  # decisions go into a store holding projections: never create an empty one
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


def register(app: typer.Typer) -> None:
    """Add ``eltrepro review`` to the main app."""
    app.add_typer(review_app, name="review")
