"""Statistics the study did not have: spread over seeds, paired bootstrap intervals, and verdicts on claims.

The study trained each row once and read differences of a few hundredths of an NME point as gains. Here a row
trains once per seed; two rows are compared face by face on the same test faces (each face's error averaged
over the row's seeds first), and the mean difference gets a percentile bootstrap interval that resamples faces.
A claim such as "row A has a lower NME than row B" is supported when the whole interval lies on its side of
0, contradicted when the whole interval lies on the other side, and inconclusive when the interval contains 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Direction = Literal["lower", "higher"]
Verdict = Literal["supported", "contradicted", "inconclusive"]


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


def paired_bootstrap(*, differences: np.ndarray, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of the mean of paired per-face differences (faces resampled).

    Args:
        differences: one value per face, row minus control (e.g. NME in percent); NaNs are dropped.
        resamples: bootstrap resamples.
        seed: seeds the resampling, so the same differences always give the same interval.
        level: the interval's coverage (0.95: the 2.5th and 97.5th percentiles).

    Returns:
        The mean difference and its interval; NaNs throughout when no face is left.

    Shapes: differences (N,).
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return Interval(mean=float("nan"), low=float("nan"), high=float("nan"), faces=0)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 256):  # chunks: a (chunk, N) index matrix stays small for large N
        n = min(256, resamples - start)
        means[start : start + n] = d[rng.integers(0, d.size, size=(n, d.size))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return Interval(mean=float(d.mean()), low=float(low), high=float(high), faces=int(d.size))


def judge(*, interval: Interval, direction: Direction) -> Verdict:
    """The verdict on "the row's error is ``direction`` than the other's" from the interval of row - other."""
    if not np.isfinite(interval.mean) or interval.contains_zero():
        return "inconclusive"
    lower = interval.high < 0.0
    return "supported" if lower == (direction == "lower") else "contradicted"
