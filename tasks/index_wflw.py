"""The ``index_wflw`` stage: every face of a dataset output (synthetic or real WFLW), and its quarantine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.image_size import DEFAULT_MAX_PIXELS
from landmark_core.wflw_index import index_wflw as index_tree
from tasks.dataset_tree import dataset_root


@dataclass(frozen=True)
class IndexConfig:
    """How the index reads a dataset.

    Attributes:
        max_pixels: a photo whose header says it is larger is quarantined unread (WFLW's largest: 9.3 Mpixel).
    """

    max_pixels: Annotated[int, Field(gt=0)] = DEFAULT_MAX_PIXELS


@stage(version=1)
def index_wflw(*, config: IndexConfig, ctx: StageContext, dataset: StageOutput) -> StageResult:
    """One manifest row per face (landmarks, box, flags, split); unreadable lines go to the quarantine."""
    result = index_tree(root=dataset_root(dataset), max_pixels=config.max_pixels)
    counts = result.faces["split"].value_counts().to_dict()
    return StageResult(manifest=result.faces, quarantine=result.quarantine, info={"faces_per_split": counts})
