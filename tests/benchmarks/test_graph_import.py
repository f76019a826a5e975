"""The graph-import benchmark: its baseline loads what the graph used to load, the new way loads neither, and a short
run prints its figures as a JSON line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.benchmarks.conftest import BENCHMARKS


def test_both_ways_import_every_entrypoint_and_only_the_baseline_preloads(benchmark_module):
    bench = benchmark_module("graph_import")
    modules = bench.entrypoint_modules()
    assert {"flows.reproduce", "flows.train_experiment", "flows.run_stage"} <= set(modules)
    new, baseline = bench.import_script(preload=()), bench.import_script(preload=bench.EAGER)
    assert all(f"import {m}" in new and f"import {m}" in baseline for m in modules)
    assert (
        "import matplotlib" not in new
        and "import scipy" not in new
        and "import scipy.stats" in baseline
        and "import matplotlib.pyplot" in baseline
    )


@pytest.mark.slow
def test_a_short_run_prints_the_json_line_and_the_new_way_loads_neither():
    args = [sys.executable, str(BENCHMARKS / "graph_import.py"), "--pairs", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["new_loaded"] == [] and figures["baseline_loaded"] == ["matplotlib.pyplot", "scipy.stats"]
    assert figures["ratio"] == pytest.approx(figures["new_wall_s"] / figures["baseline_wall_s"], abs=1e-3)
    assert figures["pairs"] == 1 and figures["new_cpu_s"] > 0
