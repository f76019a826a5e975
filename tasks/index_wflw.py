"""The ``index_wflw`` stage: every face of a dataset output (synthetic or real WFLW), and its quarantine."""

from __future__ import annotations

from dataclasses import dataclass

from landmark_core.wflw_index import index_wflw as index_tree
from tasks.dataset_tree import dataset_root
from tasks.stage import StageContext, stage
from tasks.store import StageOutput, StageResult


@dataclass(frozen=True)
class IndexConfig:
    """The index stage has no settings; its key depends only on the dataset manifest."""


@stage(version=1)
def index_wflw(*, config: IndexConfig, ctx: StageContext, dataset: StageOutput) -> StageResult:
    """One manifest row per face (landmarks, box, flags, split); unreadable lines go to the quarantine."""
    result = index_tree(root=dataset_root(dataset))
    counts = result.faces["split"].value_counts().to_dict()
    return StageResult(manifest=result.faces, quarantine=result.quarantine, info={"faces_per_split": counts})
