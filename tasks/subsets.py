"""The ``subsets`` stage: head pose and the evaluation subsets (incl. frontal, frontal_illumination)."""

from __future__ import annotations

from landmark_core.subsets import SubsetConfig, compute_subsets
from tasks.stage import StageContext, stage
from tasks.store import StageOutput, StageResult


@stage(version=1)
def subsets(*, config: SubsetConfig, ctx: StageContext, index: StageOutput) -> StageResult:
    """Head pose and subset memberships of every indexed face."""
    return StageResult(manifest=compute_subsets(faces=index.manifest(), config=config))
