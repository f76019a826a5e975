"""Paired bootstrap intervals and verdicts: the interval covers the truth, a zero-containing one is inconclusive."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from landmark_core.statistics import Interval, judge, mean_std, paired_bootstrap


def test_the_bootstrap_interval_brackets_the_mean_and_shrinks_with_more_faces():
    rng = np.random.default_rng(0)
    small = paired_bootstrap(differences=rng.normal(-0.1, 1.0, 100), resamples=1000, seed=0)
    large = paired_bootstrap(differences=rng.normal(-0.1, 1.0, 10000), resamples=1000, seed=0)
    assert small.low < small.mean < small.high and large.low < -0.1 < large.high
    assert (large.high - large.low) < (small.high - small.low) / 5  # ~1/sqrt(100) of the width
    width = 2 * 1.96 * 1.0 / np.sqrt(10000)
    assert abs((large.high - large.low) - width) < 0.2 * width  # close to the normal interval


def test_the_same_differences_and_seed_give_the_same_interval_and_nans_are_dropped():
    d = np.array([0.1, -0.2, 0.3, np.nan, 0.05])
    a, b = paired_bootstrap(differences=d, seed=3), paired_bootstrap(differences=d, seed=3)
    assert a == b and a.faces == 4
    empty = paired_bootstrap(differences=np.array([np.nan]))
    assert empty.faces == 0 and np.isnan(empty.mean) and judge(interval=empty, direction="lower") == "inconclusive"


def _hand_written_percentile_bootstrap(d: np.ndarray, resamples: int, seed: int, level: float) -> tuple[float, float]:
    """The module's interval before scipy.stats.bootstrap: faces drawn in chunks of 256 resamples, then percentiles."""
    rng, means = np.random.default_rng(seed), np.empty(resamples)
    for start in range(0, resamples, 256):
        n = min(256, resamples - start)
        means[start : start + n] = d[rng.integers(0, d.size, size=(n, d.size))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


@pytest.mark.parametrize(
    ("faces", "resamples", "seed", "level"), [(300, 2000, 0, 0.95), (57, 999, 7, 0.9), (2, 300, 1, 0.99)]
)
def test_the_default_interval_is_the_hand_written_percentile_bootstrap(faces, resamples, seed, level):
    d = np.random.default_rng(42).normal(-0.05, 0.5, faces)
    got = paired_bootstrap(differences=d, resamples=resamples, seed=seed, level=level)
    low, high = _hand_written_percentile_bootstrap(d, resamples, seed, level)
    # the same resamples; only the quantile's interpolation arithmetic differs (scipy vs np.percentile), by ulps
    np.testing.assert_allclose([got.low, got.high], [low, high], rtol=1e-12, atol=1e-15)
    assert got.mean == float(d.mean()) and got.faces == faces


def test_bca_brackets_the_mean_and_differs_from_percentile_on_skewed_differences():
    d = np.random.default_rng(1).exponential(1.0, 80) - 1.0  # skewed: BCa moves the interval
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bca = paired_bootstrap(differences=d, resamples=2000, seed=0, method="BCa")
    percentile = paired_bootstrap(differences=d, resamples=2000, seed=0)
    assert bca.low < bca.mean < bca.high and bca.faces == 80 and bca.mean == percentile.mean
    assert (bca.low, bca.high) != (percentile.low, percentile.high)
    assert bca == paired_bootstrap(differences=d, resamples=2000, seed=0, method="BCa")  # seeded


@pytest.mark.parametrize("method", ["percentile", "BCa"])
@pytest.mark.parametrize(
    "differences",
    [np.array([0.1] * 7), np.array([0.3]), np.array([np.nan, 0.3, np.inf]), np.array([-0.2, -0.2, np.nan])],
    ids=["all-equal", "one-face", "one-finite-face", "all-equal-with-nan"],
)
def test_no_spread_gives_the_point_interval_without_warnings(differences, method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy refuses one face and warns (NaN interval) for BCa on equal values
        got = paired_bootstrap(differences=differences, method=method)
    finite = differences[np.isfinite(differences)]
    mean = float(finite.mean())
    assert got == Interval(mean=mean, low=mean, high=mean, faces=finite.size)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_no_finite_face_gives_nans_without_warnings(method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = paired_bootstrap(differences=np.array([np.nan, np.inf]), method=method)
    assert got.faces == 0 and np.isnan(got.mean) and np.isnan(got.low) and np.isnan(got.high)


def test_bca_falls_back_to_the_percentiles_of_the_same_resamples_where_its_correction_fails():
    tiny = np.array([0.0, 1e-300])  # the jackknife's spread underflows: scipy's BCa gives NaN and warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bca = paired_bootstrap(differences=tiny, resamples=500, seed=2, method="BCa")
        huge = paired_bootstrap(differences=np.array([1e300, -1e300]), resamples=500)  # scipy's std overflows
    assert bca == paired_bootstrap(differences=tiny, resamples=500, seed=2) and np.isfinite([bca.low, bca.high]).all()
    assert (huge.low, huge.high) == (-1e300, 1e300)


def test_two_faces_are_enough_for_bca_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = paired_bootstrap(differences=np.array([1.0, 2.0]), method="BCa")
    assert 1.0 <= got.low <= got.mean == 1.5 <= got.high <= 2.0


def test_verdicts_follow_the_side_of_zero():
    below, above = Interval(-0.3, -0.5, -0.1, 10), Interval(0.3, 0.1, 0.5, 10)
    straddle = Interval(0.1, -0.1, 0.3, 10)
    assert judge(interval=below, direction="lower") == "supported"
    assert judge(interval=above, direction="lower") == "contradicted"
    assert judge(interval=above, direction="higher") == "supported"
    assert judge(interval=below, direction="higher") == "contradicted"
    assert judge(interval=straddle, direction="lower") == judge(interval=straddle, direction="higher") == "inconclusive"


def test_mean_std_of_one_seed_has_no_spread():
    assert mean_std(np.array([4.0]))[1] != mean_std(np.array([4.0]))[1]  # NaN
    assert mean_std(np.array([4.0, 6.0])) == (5.0, float(np.std([4.0, 6.0], ddof=1)))
