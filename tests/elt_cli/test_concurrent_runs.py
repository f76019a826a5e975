"""Runs without a Prefect server start Prefect's temporary server: two at once on a busy machine both finish
(one database migration per Prefect home, a generous start-up allowance), and a server that cannot start is one
line and exit status 2, not a traceback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows.server import BIN
from tests.flows.tiny_profile import write_profile


def _env(home: Path) -> dict[str, str]:
    """The environment of a run: no PREFECT_* variable of the caller's, a fresh Prefect home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TF_", "PYTHONWARNINGS"))}
    env["PREFECT_HOME"] = str(home)
    return env


def _run_args(profile: Path, store: Path) -> list[str]:
    """``eltrepro run`` of the tiny profile's control row only (short)."""
    args = [str(BIN / "eltrepro"), "run", "--profile", str(profile), "--store", str(store)]
    return [*args, "--experiments", "two_step_l0"]


@contextlib.contextmanager
def _busy_cpu(n: int = 2) -> Iterator[None]:
    """``n`` busy-loop processes, killed at the end: a loaded machine, where the server starts slowly."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


@pytest.mark.slow
def test_runs_started_together_on_a_busy_machine_all_finish(tmp_path):
    """Two runs on one fresh Prefect home (its database migrated once) and a third on a fresh home of its own (a
    slow start within the allowance), all started at once with the CPU held busy."""
    profile = write_profile(tmp_path, 0.25)
    homes = [tmp_path / "home", tmp_path / "home", tmp_path / "other-home"]
    logs = [tmp_path / f"run{i}.log" for i in range(len(homes))]
    with _busy_cpu(), contextlib.ExitStack() as files:
        outs = [files.enter_context(open(log, "w")) for log in logs]  # noqa: SIM115 (closed by the stack)
        runs = [
            subprocess.Popen(
                _run_args(profile, tmp_path / f"store{i}"),
                env=_env(homes[i]),
                stdout=outs[i],
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
            for i in range(len(homes))
        ]
        deadline = time.monotonic() + 900
        codes = [run.wait(timeout=max(1.0, deadline - time.monotonic())) for run in runs]
    failed = [f"run {i} (exit {code}):\n{logs[i].read_text()[-3000:]}" for i, code in enumerate(codes) if code]
    assert not failed, "\n".join(failed)


def test_a_server_that_cannot_start_is_one_line_and_exit_2(tmp_path):
    profile = write_profile(tmp_path, 0.25)
    env = _env(tmp_path / "home")
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "0"  # the user's own allowance: none at all
    done = subprocess.run(
        _run_args(profile, tmp_path / "store"), env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "prefect server start" in errors[0] and "PREFECT_API_URL=http://127.0.0.1:4200/api" in errors[0]
