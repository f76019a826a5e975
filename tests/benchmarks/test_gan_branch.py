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
    fit = np.arange(8) < 4
    threshold, precision, recall = bench.review(distances, faithful, fit)
    assert threshold == pytest.approx(0.3)  # all three faithful accepted, the unfaithful one refused: J = 1
    assert (precision, recall) == (1.0, pytest.approx(2 / 3))  # the others: 0.15, 0.25 accepted; 0.35 missed
    mostly = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2])
    good = np.array([True] * 5 + [False] + [True] * 6)  # 11 of 12 faithful: accepting all is 92 % precise
    threshold, _, _ = bench.review(mostly, good, np.ones(12, bool))
    assert threshold == pytest.approx(0.5)  # the best separation, not "accept everything"
    threshold, precision, recall = bench.review(distances, ~faithful, fit)
    assert threshold == pytest.approx(0.1) and np.isnan(precision) and recall == 0.0  # none precise: the smallest


def test_the_change_paste_keeps_the_photo_where_the_edit_changed_nothing(benchmark_module):
    bench = benchmark_module("gan_branch")
    rng = np.random.default_rng(0)
    photos, base = (rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8) for _ in range(2))
    points = np.stack([np.array([[4.0, 4.0], [12.0, 4.0], [12.0, 12.0], [4.0, 12.0]] * 25)[:98]] * 2)
    mattes = bench.face_mattes(points, 16)
    assert mattes.shape == (2, 16, 16, 1) and mattes[0, 8, 8, 0] == pytest.approx(1.0) and mattes[0, 0, 0, 0] < 0.01
    same = bench.pasted(photos=photos, relit=base, base=base, mattes=mattes, mode="change")
    assert np.array_equal(same, photos)
    lighter = bench.pasted(
        photos=photos,
        relit=np.clip(base.astype(int) + 10, 0, 255).astype(np.uint8),
        base=base,
        mattes=mattes,
        mode="change",
    )
    inside = photos[:, 8, 8].astype(int)
    assert np.array_equal(
        lighter[:, 8, 8], np.clip(inside + np.where(base[:, 8, 8] < 246, 10, 255 - base[:, 8, 8]), 0, 255)
    )
    assert np.array_equal(lighter[:, 0, 0], photos[:, 0, 0])  # outside the hull: the photo


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
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0 <= result["identification"] <= 1 and result["target_nme"] > 0 and result["projection_psnr_db"] > 0
    assert {"review_precision", "review_recall", "untrained_identification", "seconds"} <= set(result)
    assert "twin GAN" in done.stdout and "untrained" in done.stdout
    assert len(result["relight_gain_db"]) == 3 and "relight_physical_gain_db" in result
    assert {"relight_landmark_drift", "unrelit_paste_drift", "relight_gain_face_paste_db"} <= set(result)


@pytest.mark.slow
def test_on_a_handful_of_faces_the_twin_models_project_far_better_than_an_untrained_generator(benchmark_module):
    import torch

    from gan_core.stylegan2 import Generator
    from gan_core.twin_faces import aligned_twin_faces
    from gan_core.twin_gan import HELD_OUT_SEED
    from gan_core.twin_models import load_committed_generator, load_committed_landmarks
    from gan_core.twin_perceptual import TwinPerceptual

    bench = benchmark_module("gan_branch")
    faces = aligned_twin_faces(seeds=range(HELD_OUT_SEED, HELD_OUT_SEED + 4), resolution=64)
    landmarks, config = load_committed_landmarks()
    distance, trained = TwinPerceptual(landmarks), load_committed_generator()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        untrained = Generator(trained.config).eval().requires_grad_(False)
    rows = []
    for generator in (trained, untrained):
        pictures, _ = bench.projections(generator, distance, bench._tensor(faces.images), 40)
        rows.append(
            bench.projection_figures(
                pictures=pictures, faces=faces, distance=distance, landmark_model=landmarks, landmark_config=config
            )
        )
    ours, baseline = rows
    assert np.median(ours["psnr"]) > np.median(baseline["psnr"]) + 3  # dB
    assert np.median(ours["distance"]) < 0.6 * np.median(baseline["distance"])
    assert np.median(ours["drift"]) < np.median(baseline["drift"]) and ours["identified"].mean() == 1.0
