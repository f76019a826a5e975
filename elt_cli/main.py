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

try:  # the command line's own mistakes: typer vendors click in its recent releases, and uses click itself before
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover (older typer)
    from click.exceptions import UsageError

from elt_cli import data, doctor, fetch_all, gan, models, review, run, stage, train, weights
from elt_cli.console import err_console
from landmark_core.config import ConfigError

app = typer.Typer(
    help="ELT-Repro: reproduce the ELT + GAN-relighting facial-landmark study.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for group in (run, doctor, fetch_all, data, weights, stage, review, train, models, gan):
    group.register(app)


def input_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean a mistake in the user's input (one line, no traceback)."""
    errors: list[type[BaseException]] = [ConfigError, FileNotFoundError, NotADirectoryError]
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
    """The ``eltrepro`` entry point: the app, with input mistakes (the project's, and the command line's own: a
    missing argument, an unknown option, a value of the wrong type) as one line on stderr and exit status 2."""
    try:
        code = app(standalone_mode=False)
    except UsageError as error:
        if not error.format_message():  # a group named alone: its help is printed already
            sys.exit(error.exit_code)
        command = error.ctx.command_path if error.ctx else "eltrepro"
        _refuse(f"{command}: {error.format_message()} (see `{command} --help`)")
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as error:
        if not isinstance(error, input_errors()):
            raise
        _refuse(str(error))
    sys.exit(code if isinstance(code, int) else 0)


def _refuse(line: str) -> None:
    """``error: <line>`` on stderr (the line as written: no markup read in it) and exit status 2."""
    err_console.print("[red]error:[/red] ", end="", soft_wrap=True)
    err_console.print(line, soft_wrap=True, markup=False, highlight=False)
    sys.exit(2)


if __name__ == "__main__":
    main()
