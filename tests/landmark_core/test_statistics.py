"""Paired bootstrap intervals and verdicts: the interval covers the truth, a zero-containing one is inconclusive."""

from __future__ import annotations

import numpy as np

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
