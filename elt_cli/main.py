"""The ``eltrepro`` command line.

Heavy libraries (torch, Prefect, pandas, OpenCV) are imported by the commands that use them, so ``--help`` and
every input check answer at once. Every input mistake (an unknown profile or row, bad TOML, a bad value, a
missing file, a bad ``--device`` or ``--sha256``) is one line on stderr and exit status 2, before any Prefect
server starts: ``main`` turns the project's input errors into that line; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import sys

import typer

from elt_cli import data, doctor, fetch_all, models, review, run, stage, train, weights
from elt_cli.console import err_console
from landmark_core.config import ConfigError

app = typer.Typer(
    help="ELT-Repro: reproduce the ELT + GAN-relighting facial-landmark study.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for group in (run, doctor, fetch_all, data, weights, stage, review, train, models):
    group.register(app)


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
