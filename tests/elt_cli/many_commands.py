"""Run many ``eltrepro`` command lines in one fresh Python process, each as the installed command runs it.

``python tests/elt_cli/many_commands.py CASES.json RESULTS.json`` (a script, not ``-m``: the command names
itself ``eltrepro``, from ``sys.argv[0]``, only when run as a script): for each argument list in CASES, the entry
point ``elt_cli.main.main`` runs with ``sys.argv = ["eltrepro", *args]``, its file descriptors 1 and 2 sent to
files (so whatever writes there, Python, rich or C, is caught), and its exit status taken from ``SystemExit``;
an exception that escapes is printed as the interpreter prints it. The tests of one-line mistakes use it: one
process start for thirty command lines instead of thirty, with the same stdout, stderr and exit status.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path


def _run_one(args: list[str]) -> dict[str, object]:
    """One command line: its exit status and what it wrote on stdout and stderr."""
    from elt_cli.main import main

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = os.dup(1), os.dup(2)
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        sys.argv = ["eltrepro", *args]
        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:  # noqa: BLE001 (printed as the interpreter would, then the status it exits with)
            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(ValueError):
                sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])
        out.seek(0), err.seek(0)
        return {"returncode": code, "stdout": out.read().decode(), "stderr": err.read().decode()}


def main() -> None:
    cases, results = Path(sys.argv[1]), Path(sys.argv[2])
    done = [_run_one(args) for args in json.loads(cases.read_text())]
    results.write_text(json.dumps(done))


if __name__ == "__main__":
    main()
