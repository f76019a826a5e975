"""``eltrepro weights``: list the published weights the project knows, fetch them."""

from __future__ import annotations

from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import parse_digests, progress_printer
from landmark_core.config import ConfigError

weights_app = typer.Typer(help="Published network weights: list, fetch.", no_args_is_help=True)


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
        progress=progress_printer(),
    )
    for name, action in report.actions.items():
        console.print(f"{name}: {action} (sha256 {report.sha256[name]})")


def register(app: typer.Typer) -> None:
    """Add ``eltrepro weights`` to the main app."""
    app.add_typer(weights_app, name="weights")
