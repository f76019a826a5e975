"""The GPU suite exists and runs on a CPU with its tiny settings: every step prints its figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "gpu_suite.sh"


def test_the_suite_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(SUITE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_the_suite_runs_every_step_on_cpu_with_tiny_settings(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    result = subprocess.run([str(SUITE), "--tiny"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed or timed out" not in result.stdout, result.stdout
    for figure in (
        "img/s",
        "s per face per 1000 steps",
        "styleflow edit on cpu",
        "DPR relight pass",
        "tests collected",
    ):
        assert figure in result.stdout, figure
    assert {p.name for p in tmp_path.iterdir()} >= {"train.log", "project.log", "relight.log", "dpr.log", "tests.log"}
