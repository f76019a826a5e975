"""Claims judged on paired per-face errors: supported, contradicted, inconclusive, or not run."""

from __future__ import annotations

import numpy as np

from landmark_core.claims import Claim, judge_claims
from landmark_core.report import face_errors
from tests.landmark_core.test_report import per_face


def claim(row: str, than: str, direction: str = "lower") -> Claim:
    return Claim(
        id=f"{row}-{direction}-{than}",
        text=f"{row} {direction} than {than}",
        row=row,
        than=than,
        subset="full",
        direction=direction,
    )


def test_each_verdict_from_the_paired_interval():
    rng = np.random.default_rng(0)
    control = rng.uniform(0.04, 0.06, 300)
    faces = {
        "control": face_errors([per_face(control)]),
        "better": face_errors([per_face(control - 0.004)]),  # 0.4 points lower on every face
        "same": face_errors([per_face(control + rng.normal(0, 0.004, 300))]),  # noise around the control
    }
    claims = (
        claim("better", "control"),
        claim("better", "control", "higher"),
        claim("same", "control"),
        claim("x", "control"),
    )
    verdicts = judge_claims(claims=claims, faces=faces, resamples=500, seed=0).set_index("id")
    assert list(verdicts["verdict"]) == ["supported", "contradicted", "inconclusive", "not run"]
    assert (
        np.isclose(verdicts.loc["better-lower-control", "mean"], -0.4)
        and verdicts.loc["better-lower-control", "faces"] == 300
    )
    assert verdicts.loc["better-lower-control", "difference"].startswith("-0.400 [")
    assert verdicts.loc["x-lower-control", "difference"] == "not trained: x"
