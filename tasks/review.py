"""The ``review`` stage: the outcome of the manual review for every face of one projection output.

Every projected face gets a status (``accepted``, ``rejected``, ``discarded`` at the projector's early check)
and why; only accepted faces go on to relighting. The decisions come from the store's decisions file
(``tasks.decisions``); the gate in the flow brings every kept face to a decision first and passes the digest of
those decisions in the config, so new decisions re-key the review and everything after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from tasks.decisions import DecisionError, read_decisions

COLUMNS = ["detection_id", "status", "lpips", "reason", "reviewer"]  # when: in the decisions file, not here


@dataclass(frozen=True)
class ReviewConfig:
    """The review stage's config: the gate's policy and threshold, and the digest of the decisions it read."""

    policy: str
    lpips_threshold: float
    decisions: str  # tasks.decisions.decisions_digest of the projected faces' latest decisions


@stage(version=2)
def review(*, config: ReviewConfig, ctx: StageContext, projected: StageOutput) -> StageResult:
    """The review's outcome for every projected face.

    Raises:
        DecisionError: a kept face has no decision (the gate must run first).
    """
    latest = read_decisions(ctx.store).set_index("face_id")
    rows = []
    for _, face in projected.manifest().iterrows():
        if bool(face["discarded"]):
            reason = f"loss {face['loss_at_discard_step']:.4f} above the early-discard threshold"
            rows.append(
                {
                    "detection_id": face["detection_id"],
                    "status": "discarded",
                    "lpips": face["lpips"],
                    "reason": reason,
                    "reviewer": "projector",
                }
            )
            continue
        if face["detection_id"] not in latest.index:
            raise DecisionError(f"face {face['detection_id']} has no review decision")
        d = latest.loc[face["detection_id"]]
        rows.append(
            {
                "detection_id": face["detection_id"],
                "lpips": face["lpips"],
                "status": "accepted" if d["decision"] == "accept" else "rejected",
                "reason": d["reason"],
                "reviewer": d["reviewer"],
            }
        )
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    counts = manifest["status"].value_counts().to_dict()
    return StageResult(manifest=manifest, info={"policy": config.policy, "counts": counts})
