"""Runs as a user starts them (`eltrepro run`, no Prefect server: each starts Prefect's temporary server): two at
once on a busy machine both finish (one database migration per Prefect home, a generous start-up allowance, one
writer per key) and print no foreign noise; a server that cannot start is one line and exit status 2."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows.server import BIN
from tests.flows.tiny_profile import GAN, write_profile


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


def _wait_for_flows(logs: list[Path], runs: list[subprocess.Popen], *, timeout: float) -> None:
    """Until every run has begun its flow (its server answered) or ended, or ``timeout`` seconds: the start is what a
    busy machine endangers, so the busy loop need not outlive it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pairs = zip(logs, runs, strict=True)
        if all(run.poll() is not None or "Beginning flow run" in log.read_text() for log, run in pairs):
            return
        time.sleep(0.5)


NOISE = {
    "a TensorFlow/absl C++ log line": re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cpu_feature_guard|oneDNN"),
    "a Python warning": re.compile(r"\b[A-Z]\w*Warning: "),
    "a refused event": re.compile(r"Refusing to publish event"),
    "a traceback": re.compile(r"^Traceback \(most recent call last\)"),
}


def _geometry_profile(folder: Path) -> Path:
    """The tiny profile with the GAN branch's geometry (detection, the segmenter trained with TensorFlow, paste)."""
    profile = write_profile(folder, 0.25)
    profile.write_text(profile.read_text() + GAN[: GAN.index("[gan.project]")])
    return profile


@pytest.mark.slow
def test_two_runs_started_together_on_a_busy_machine_both_finish_quietly_computing_each_key_once(tmp_path):
    """Two runs of one store on one fresh Prefect home, started at once with the CPU held busy: its database is
    migrated once, the slow server start fits the allowance, and the second run waits on the first's leases and
    then finds every output made. Each prints only the project's lines, Prefect's logs and progress bars: no
    TensorFlow C++ line, no Python warning, no event the server refuses."""
    profile = _geometry_profile(tmp_path)
    logs, env = [tmp_path / f"run{i}.log" for i in range(2)], _env(tmp_path / "home")
    with contextlib.ExitStack() as files:
        outs = [files.enter_context(open(log, "w")) for log in logs]  # noqa: SIM115 (closed by the stack)
        with _busy_cpu(1):  # the two runs and a busy loop on 2 cores, while the servers start
            runs = [
                subprocess.Popen(_run_args(profile, tmp_path / "store"), env=env, stdout=out, stderr=out, cwd=tmp_path)
                for out in outs
            ]
            _wait_for_flows(logs, runs, timeout=300)
        deadline = time.monotonic() + 900
        codes = [run.wait(timeout=max(1.0, deadline - time.monotonic())) for run in runs]
    texts = [log.read_text() for log in logs]
    failed = [f"run {i} (exit {code}):\n{texts[i][-3000:]}" for i, code in enumerate(codes) if code]
    assert not failed, "\n".join(failed)
    assert all("Task run 'segment_train" in text for text in texts)  # TensorFlow ran, in the run that computed it
    lines = [line for text in texts for line in text.splitlines()]
    noisy = [f"{what}: {line}" for line in lines for what, rx in NOISE.items() if rx.search(line)]
    assert not noisy, "\n".join(noisy)
    assert any("no ImageNet VGG16 weights given" in text for text in texts)  # a stage's caveat: a line of its log
    reports = {text.rstrip().splitlines()[-1] for text in texts}
    assert len(reports) == 1 and reports.pop().endswith("report.md")  # the same report, made once
    for stage in ("synth_wflw", "segment_train", "train_landmarks", "report"):
        assert len(list((tmp_path / "store" / stage).glob("*/stage.json"))) == 1, stage


@pytest.mark.slow
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
