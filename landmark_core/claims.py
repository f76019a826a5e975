"""The study's conclusions as data, each judged on our numbers.

A claim says that one row's NME on one subset is lower (or higher) than another row's, as the study read its
tables (for example "λelt = 0.25, r1 = 0, r2 = 0.05 has a lower Full NME than the baseline"). It is judged on
the paired per-face differences of the two rows (``landmark_core.statistics``): supported, contradicted or
inconclusive; a claim whose rows did not both run is "not run".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from landmark_core.report import interval_text, paired_intervals
from landmark_core.statistics import judge


@dataclass(frozen=True)
class Claim:
    """One conclusion of the study.

    Attributes:
        id: short unique name.
        text: the claim in words.
        row: the row the claim is about.
        than: the row it is compared with.
        subset: where (``full``, ``illumination``, ...).
        direction: ``lower`` (row's NME below than's) or ``higher``.
        source: where the study says so (e.g. "Table 4.1").
    """

    id: str
    text: str
    row: str
    than: str
    subset: str
    direction: Literal["lower", "higher"]
    source: str = ""


def judge_claims(
    *, claims: tuple[Claim, ...], faces: Mapping[str, pd.DataFrame], resamples: int, seed: int
) -> pd.DataFrame:
    """The verdict on each claim.

    Args:
        claims: the claims, in the order to show them.
        faces: row -> ``landmark_core.report.face_errors`` (per-face NME in percent, averaged over seeds).
        resamples, seed: the bootstrap's.

    Returns:
        One line per claim: ``id``, ``text``, ``source``, ``verdict`` (supported / contradicted / inconclusive /
        not run), ``difference`` (row - than, ``-0.123 [-0.200, -0.041]``), ``mean``, ``low``, ``high``, ``faces``.
    """
    lines = []
    for claim in claims:
        line = {"id": claim.id, "text": claim.text, "source": claim.source}
        if claim.row not in faces or claim.than not in faces:
            missing = [r for r in (claim.row, claim.than) if r not in faces]
            lines.append({**line, "verdict": "not run", "difference": f"not trained: {', '.join(missing)}"})
            continue
        interval = paired_intervals(
            row=faces[claim.row], control=faces[claim.than], subsets=(claim.subset,), resamples=resamples, seed=seed
        )[claim.subset]
        verdict = judge(interval=interval, direction=claim.direction)
        lines.append({**line, "verdict": verdict, "difference": interval_text(interval), **vars(interval)})
    columns = ["id", "text", "source", "verdict", "difference", "mean", "low", "high", "faces"]
    return pd.DataFrame(lines).reindex(columns=columns)
