"""The ``subsets`` stage: head pose and the evaluation subsets (incl. frontal, frontal_illumination).

Every indexed face keeps its row (the evaluation needs its subset flags); a face whose pose could not be
estimated has NaN angles, is not frontal, and is listed in the quarantine with the reason. The info holds the
frontal and frontal-illumination counts per split, with the study's counts beside the test split's.
"""

from __future__ import annotations

import pandas as pd

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.subsets import POSE_OK, STUDY_TEST_COUNTS, SubsetConfig, compute_subsets, subset_table

COUNTED = ("full", "frontal", "frontal_illumination")


def frontal_counts(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Faces per split in full, frontal and frontal_illumination, and the study's test-split counts."""
    per_split = subset_table(table).loc[list(COUNTED)]
    counts = {split: {name: int(n) for name, n in per_split[split].items()} for split in per_split.columns}
    return counts | {"study_test": dict(STUDY_TEST_COUNTS)}


@stage(version=2)
def subsets(*, config: SubsetConfig, ctx: StageContext, index: StageOutput) -> StageResult:
    """Head pose and subset memberships of every indexed face; faces without a pose are quarantined."""
    table = compute_subsets(faces=index.manifest(), config=config)
    failed = table[table["pose_status"] != POSE_OK]
    quarantine = pd.DataFrame({"face_id": failed["face_id"], "reason": failed["pose_status"]})
    info = {"counts": frontal_counts(table), "no_pose": len(failed)}
    return StageResult(manifest=table, quarantine=quarantine.reset_index(drop=True), info=info)
