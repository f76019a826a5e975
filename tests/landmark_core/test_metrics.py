"""Metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landmark_core.metrics import (
    auc,
    ced_curve,
    failure_rate,
    nme_per_face,
    subset_metrics,
    summarize,
    worst_mean,
)


def _face(eye_distance: float) -> np.ndarray:
    pts = np.zeros((98, 2))
    pts[60] = (0.0, 0.0)
    pts[72] = (eye_distance, 0.0)
    pts[96] = (10.0, 0.0)
    pts[97] = (10.0 + eye_distance / 2, 0.0)
    return pts


def test_nme_normalises_the_mean_point_error_by_the_outer_eye_corners():
    truth = np.stack([_face(100.0), _face(50.0)])
    pred = truth.copy()
    pred[0, :, 0] += 3.0  # every point 3 px off -> 3 / 100
    pred[1, :49, 1] += 2.0  # half the points 2 px off -> mean 1 px -> 1 / 50
    pred[1, 60] = truth[1, 60]  # the normaliser comes from the ground truth only
    np.testing.assert_allclose(nme_per_face(pred=pred, truth=truth), [0.03, 0.02])
    np.testing.assert_allclose(nme_per_face(pred=pred, truth=truth, normaliser="inter_pupil"), [0.06, 0.04])


def test_zero_normaliser_is_an_error_naming_the_face():
    truth = np.stack([_face(10.0), np.zeros((98, 2))])
    with pytest.raises(ValueError, match=r"faces \[1\]"):
        nme_per_face(pred=truth, truth=truth)


def test_worst_fraction_means_failure_rate_and_exact_auc():
    errors = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.20])
    assert worst_mean(errors, 0.10) == pytest.approx(0.20)  # ceil(0.1 * 10) = 1 face
    assert worst_mean(errors, 0.25) == pytest.approx((0.20 + 0.09 + 0.08) / 3)  # ceil(2.5) = 3
    assert worst_mean(errors, 0.01) == pytest.approx(0.20)  # at least one face
    assert failure_rate(errors) == pytest.approx(0.1)
    assert failure_rate(np.array([0.1, 0.10001])) == pytest.approx(0.5)  # "above" the threshold
    # Areas: max(0, 0.1 - e) = 0.09, 0.08, ..., 0.01, 0 -> sum 0.45 -> mean 0.045 -> / 0.1 = 0.45
    assert auc(errors) == pytest.approx(0.45)
    assert auc(np.array([0.0, 0.05, 0.2])) == pytest.approx(0.5)


def test_auc_matches_a_fine_trapezoid_of_the_ced_curve():
    errors = np.random.default_rng(0).gamma(2.0, 0.02, size=500)
    x, ced = ced_curve(errors, points=100001)
    assert ced[0] == 0.0 and ced[-1] == pytest.approx(np.mean(errors <= 0.1))
    assert auc(errors) == pytest.approx(np.trapezoid(ced, x) / 0.1, abs=1e-4)


def test_summarize_and_subsets_including_an_empty_subset():
    per_face = pd.DataFrame(
        {"nme": [0.02, 0.04, 0.3], "in_full": [True] * 3, "in_pose": [False, False, True], "in_blur": [False] * 3}
    )
    table = subset_metrics(per_face=per_face, subsets=("full", "pose", "blur"))
    assert list(table.index) == ["full", "pose", "blur"]
    assert table.loc["full", "nme"] == pytest.approx(0.12) and table.loc["full", "faces"] == 3
    assert table.loc["full", "nme90"] == pytest.approx(0.3) and table.loc["full", "fr10"] == pytest.approx(1 / 3)
    assert table.loc["pose", "nme"] == pytest.approx(0.3)
    assert table.loc["blur", "faces"] == 0 and np.isnan(table.loc["blur", "nme"])
    assert summarize(np.array([]))["faces"] == 0
