"""Statistics the study did not have: spread over seeds, paired bootstrap intervals, and verdicts on claims.

The study trained each row once and read differences of a few hundredths of an NME point as gains. Here a row
trains once per seed; two rows are compared face by face on the same test faces (each face's error averaged
over the row's seeds first), and the mean difference gets a bootstrap interval that resamples faces
(``scipy.stats.bootstrap``: percentile by default, BCa on request). A claim such as "row A has a lower NME than
row B" is supported when the whole interval lies on its side of 0, contradicted when the whole interval lies on
the other side, and inconclusive when the interval contains 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

Direction = Literal["lower", "higher"]
Verdict = Literal["supported", "contradicted", "inconclusive"]
Method = Literal["percentile", "BCa"]


@dataclass(frozen=True)
class Interval:
    """A mean difference and its confidence interval (same unit as the differences)."""

    mean: float
    low: float
    high: float
    faces: int

    def contains_zero(self) -> bool:
        """Whether 0 lies in [low, high]."""
        return self.low <= 0.0 <= self.high


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1) of per-seed values; the std is NaN for one seed.

    Shapes: (S,) -> two floats.
    """
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return float(values.mean()), std


def paired_bootstrap(
    *,
    differences: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    method: Method = "percentile",
) -> Interval:
    """Bootstrap interval of the mean of paired per-face differences (faces resampled, ``scipy.stats.bootstrap``).

    The pairing lives in the differences (one per face, row minus control), so a one-sample bootstrap of them
    resamples faces exactly as a paired two-sample bootstrap would.

    Args:
        differences: one value per face, row minus control (e.g. NME in percent); NaNs and infinities are dropped.
        resamples: bootstrap resamples.
        seed: seeds the resampling, so the same differences always give the same interval.
        level: the interval's coverage (0.95: the 2.5th and 97.5th percentiles for ``"percentile"``).
        method: ``"percentile"`` (the default, the numbers reported so far) or ``"BCa"`` (bias-corrected and
            accelerated).

    Returns:
        The mean difference and its interval; NaNs throughout when no face is left, and the point interval
        [mean, mean] when every difference is the same (one face included), whatever the method. Where BCa's
        correction cannot be computed (nearly equal differences), the percentile interval of the same resamples.

    Shapes: differences (N,).
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return Interval(mean=float("nan"), low=float("nan"), high=float("nan"), faces=0)
    mean = float(d.mean())
    if np.all(d == d[0]):  # no spread: every resample has this mean (scipy refuses one face, BCa gives NaN)
        return Interval(mean=mean, low=mean, high=mean, faces=int(d.size))
    from scipy import stats  # here, not at the top: scipy.stats costs a second of every process importing the graph

    options = {"confidence_level": level, "vectorized": True, "batch": 256}  # (256, N) resample indices at a time
    with np.errstate(all="ignore"), warnings.catch_warnings():  # near-degenerate data: handled below, not warned
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        # `random_state=`: `rng=` only exists from scipy 1.15 and the declared floor is 1.11
        rng = np.random.default_rng(seed)
        result = stats.bootstrap((d,), np.mean, n_resamples=resamples, method=method, random_state=rng, **options)
        if not np.all(np.isfinite(result.confidence_interval)):  # BCa failed: the same resamples' percentiles
            result = stats.bootstrap(
                (d,), np.mean, n_resamples=0, bootstrap_result=result, method="percentile", **options
            )
    low, high = result.confidence_interval
    return Interval(mean=mean, low=float(low), high=float(high), faces=int(d.size))


def judge(*, interval: Interval, direction: Direction) -> Verdict:
    """The verdict on "the row's error is ``direction`` than the other's" from the interval of row - other."""
    if not np.isfinite(interval.mean) or interval.contains_zero():
        return "inconclusive"
    lower = interval.high < 0.0
    return "supported" if lower == (direction == "lower") else "contradicted"
