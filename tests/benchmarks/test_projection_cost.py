"""The projection-cost benchmark: a short run prints its table and a JSON line whose ratio is counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_run_counts_the_evaluations_of_each_recipe():
    args = ["--faces", "2", "--offset", "100", "--study-steps", "12", "--steps", "6", "--stop-window", "2"]
    args += ["--stop-rampdown", "2", "--threads", "1"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "projection_cost.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["study_evaluations_per_face"] == 25  # 12 renders and backward passes, and the final render
    assert result["evaluations_per_face"] <= 13  # at most 6 steps and the final render
    assert result["evaluations_ratio"] == pytest.approx(25 / result["evaluations_per_face"], abs=1e-3)
    assert 0 <= result["identification"] <= 1 and len(result["study_landmark_drift"]) == 3
    assert "(seeds 1000100-1000101)" in done.stdout
    for recipe in ("study", "encoder + stopping", "encoder alone"):
        assert recipe in done.stdout
