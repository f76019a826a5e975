"""Landmark error metrics of the study: NME, NME90/95/99, FR@10, AUC@10 and the CED curve.

* NME of a face = mean over the 98 landmarks of the Euclidean error, divided by the distance between the
  ground-truth outer eye corners 60 and 72 ("inter-ocular", the study's default) or the pupils 96 and 97.
* NMEx = mean NME of the worst (100 - x) % of faces: the ceil(f * N) faces with the largest NME,
  f = 0.10 / 0.05 / 0.01 (at least one face).
* FR@t = fraction of faces with NME > t.
* AUC@t = area under the CED curve (fraction of faces with NME <= x) for x in [0, t], divided by t. It is
  computed exactly: the integral of a step CED is mean_i max(0, t - e_i) / t.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from landmark_core.wflw import OUTER_EYE_CORNERS, PUPILS

Normaliser = Literal["inter_ocular", "inter_pupil"]
WORST_FRACTIONS: dict[str, float] = {"nme90": 0.10, "nme95": 0.05, "nme99": 0.01}
METRIC_COLUMNS: tuple[str, ...] = ("faces", "nme", "nme90", "nme95", "nme99", "fr10", "auc10")


def nme_per_face(*, pred: np.ndarray, truth: np.ndarray, normaliser: Normaliser = "inter_ocular") -> np.ndarray:
    """Normalised mean error of every face.

    Shapes: pred, truth (N, 98, 2) pixel xy -> (N,) fractions (0.05 means 5 %).
    """
    a, b = OUTER_EYE_CORNERS if normaliser == "inter_ocular" else PUPILS
    norm = np.linalg.norm(truth[:, a] - truth[:, b], axis=-1)
    if np.any(norm <= 0):
        bad = np.flatnonzero(norm <= 0).tolist()
        raise ValueError(f"faces {bad} have a zero {normaliser} distance; NME is undefined for them")
    return np.linalg.norm(pred - truth, axis=-1).mean(axis=-1) / norm


def worst_mean(errors: np.ndarray, fraction: float) -> float:
    """Mean of the ceil(fraction * N) largest errors."""
    k = max(1, math.ceil(fraction * len(errors) - 1e-9))
    return float(np.sort(errors)[-k:].mean())


def failure_rate(errors: np.ndarray, threshold: float = 0.10) -> float:
    """Fraction of faces with NME above threshold."""
    return float(np.mean(errors > threshold))


def auc(errors: np.ndarray, threshold: float = 0.10) -> float:
    """Exact area under the CED curve on [0, threshold], normalised to [0, 1]."""
    return float(np.mean(np.clip(threshold - errors, 0.0, None)) / threshold)


def ced_curve(errors: np.ndarray, *, threshold: float = 0.10, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative error distribution sampled on [0, threshold]: (x, fraction of faces with NME <= x)."""
    x = np.linspace(0.0, threshold, points)
    return x, (np.sort(errors)[None, :] <= x[:, None]).mean(axis=1)


def summarize(errors: np.ndarray) -> dict[str, float]:
    """All metrics of one set of faces (fractions, not percent). An empty set gives NaNs and faces 0."""
    if len(errors) == 0:
        return {"faces": 0, **{c: float("nan") for c in METRIC_COLUMNS[1:]}}
    out: dict[str, float] = {"faces": len(errors), "nme": float(np.mean(errors))}
    out.update({name: worst_mean(errors, f) for name, f in WORST_FRACTIONS.items()})
    out["fr10"] = failure_rate(errors)
    out["auc10"] = auc(errors)
    return out


def subset_metrics(*, per_face: pd.DataFrame, subsets: tuple[str, ...]) -> pd.DataFrame:
    """Metrics per subset.

    Args:
        per_face: one row per face with an ``nme`` column and boolean ``in_<subset>`` columns.
        subsets: names to report, in order.

    Returns:
        Index ``subsets``, columns METRIC_COLUMNS.
    """
    rows = {name: summarize(per_face.loc[per_face[f"in_{name}"].astype(bool), "nme"].to_numpy()) for name in subsets}
    return pd.DataFrame.from_dict(rows, orient="index")[list(METRIC_COLUMNS)]
