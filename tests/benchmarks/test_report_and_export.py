"""The report-and-export benchmark: both ways give the same page, the export's baseline is the earlier path, and
the figures come as a JSON line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.benchmarks.conftest import BENCHMARKS


def test_the_page_is_the_same_both_ways_and_the_fast_way_is_timed_against_the_earlier_one(benchmark_module):
    figures = benchmark_module("report_and_export").page_seconds(figures=3, figure_kb=20, repeats=1)
    assert figures["same_page"] is True
    assert figures["baseline_s"] > 0 and figures["new_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["new_s"] / figures["baseline_s"])


def test_the_export_baseline_keeps_the_relu6s_and_the_new_way_clamps(benchmark_module, monkeypatch):
    import landmark_core.export as export

    seen = []

    def record(*, model, config, out, fmt):  # what the export would be given, without exporting
        seen.append((out.name, sum(isinstance(m, torch.nn.ReLU6) for m in export._relu6_as_clamp(model).modules())))
        return out

    monkeypatch.setattr(export, "export_model", record)
    figures = benchmark_module("report_and_export").export_seconds(size="demo")
    assert seen[0][0] == "baseline" and seen[0][1] > 10 and seen[1] == ("new", 0)
    assert set(figures) == {"baseline_s", "new_s", "ratio"}


@pytest.mark.slow
def test_a_short_run_prints_the_json_line():
    args = [sys.executable, str(BENCHMARKS / "report_and_export.py"), "--only", "page", "--figures", "2"]
    result = subprocess.run([*args, "--figure-kb", "10"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("page with 2 figures of 10 KB: baseline") and len(lines) == 2
    figures = json.loads(lines[-1])
    assert set(figures) == {"page"} and figures["page"]["same_page"] is True
