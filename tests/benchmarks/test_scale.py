"""The scale benchmark: its growth exponent, and a run of the data stages at two tiny sizes of the WFLW-shaped
twin, each stage in its own child process, with the table it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scale.py"


def test_the_growth_exponent_is_the_log_log_slope(benchmark_module):
    scale = benchmark_module("scale")
    assert scale.exponent([0.125, 0.25, 0.5, 1.0], [2.0, 4.0, 8.0, 16.0]) == pytest.approx(1.0)
    assert scale.exponent([0.25, 0.5, 1.0], [1.0, 4.0, 16.0]) == pytest.approx(2.0)
    assert scale.exponent([1.0], [3.0]) != scale.exponent([1.0], [3.0])  # NaN: one size fits nothing


@pytest.mark.slow
def test_the_data_stages_at_two_tiny_sizes(tmp_path):
    lines = tmp_path / "scale.jsonl"
    command = [sys.executable, str(SCRIPT), "--sizes", "0.002", "0.004", "--only", "synth", "index", "subsets"]
    command += ["--root", str(tmp_path / "runs"), "--workers", "1", "--csv", str(lines)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [(r["step"], r["size"]) for r in rows] == [
        (step, size) for size in (0.002, 0.004) for step in ("synth", "index", "subsets")
    ]
    assert all("error" not in r and r["seconds"] > 0 and r["rss_mb"] > 50 for r in rows)
    synth = {r["size"]: r for r in rows if r["step"] == "synth"}
    assert synth[0.004]["files"] > synth[0.002]["files"] > 0  # photos, masks and annotations of twice the faces
    assert synth[0.004]["bytes"] > synth[0.002]["bytes"]
    table = result.stdout[result.stdout.index("| stage |") :].splitlines()
    synth_row = next(line for line in table if line.startswith("| synth |"))
    assert synth_row.count(",") == 6 and not synth_row.rstrip(" |").endswith("nan")
