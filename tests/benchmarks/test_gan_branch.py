"""The GAN-branch benchmark: its measures on known numbers, and a short run that ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmark_core.metrics import nme_per_face

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gan_branch.py"
DPR = ROOT.parent / "shared" / "weights" / "dpr" / "trained_model_03.t7"


def test_psnr_nme_and_the_review_calibration(benchmark_module):
    bench = benchmark_module("gan_branch")
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[1] += 255
    assert bench.psnr(a, b)[1] == pytest.approx(0.0) and bench.psnr(a, b)[0] > 100  # equal pictures: no error
    truth = np.zeros((1, 98, 2))
    truth[0, 72, 0] = 10.0  # eye corners 10 px apart
    assert nme_per_face(pred=truth + [0.0, 1.0], truth=truth)[0] == pytest.approx(0.1)  # the NME it reports
    distances = np.array([0.1, 0.2, 0.9, 0.3, 0.15, 0.25, 0.8, 0.35])
    faithful = np.array([True, True, False, True, True, True, False, True])
    threshold, precision, recall = bench.review(distances, faithful)
    assert threshold == pytest.approx(0.3)  # the largest threshold with precision >= 0.9 on the first half
    assert (precision, recall) == (1.0, pytest.approx(2 / 3))  # second half: 0.15, 0.25 accepted; 0.35 missed


def test_a_light_points_where_its_first_sh_band_points(benchmark_module):
    bench = benchmark_module("gan_branch")
    sh = np.zeros(9)
    sh[3] = 1.0  # DPR's X: the light comes from the right
    assert bench.light_of(sh).direction == pytest.approx((1.0, 0.0, 0.0))
    sh[3], sh[1] = 0.0, -1.0  # DPR's Y away from the viewer, negative: a frontal light
    assert bench.light_of(sh).direction == pytest.approx((0.0, 0.0, 1.0))


@pytest.mark.slow
def test_a_short_run_prints_the_table_and_the_json_line():
    args = [sys.executable, str(SCRIPT), "--faces", "4", "--steps", "5", "--threads", "1"]
    if DPR.is_file():
        args += ["--dpr", str(DPR)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0 <= result["identification"] <= 1 and result["target_nme"] > 0 and result["projection_psnr_db"] > 0
    assert {"review_precision", "review_recall", "untrained_identification", "seconds"} <= set(result)
    assert "twin GAN" in done.stdout and "untrained" in done.stdout
    if DPR.is_file():
        assert len(result["relight_gain_db"]) == 3 and "relight_physical_gain_db" in result
