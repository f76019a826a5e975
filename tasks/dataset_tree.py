"""Where a dataset stage output keeps its WFLW tree, and the face records of one split of it.

Both dataset stages (``synth_wflw`` and ``download_wflw``) publish a WFLW root under ``DATASET_DIR`` inside
their output; every stage that reads images goes through these helpers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kit.store import StageOutput

if TYPE_CHECKING:
    from landmark_core.dataset import FaceRecord

DATASET_DIR = "wflw"  # the WFLW root inside a dataset stage output


def dataset_root(dataset: StageOutput) -> Path:
    """The local WFLW root of a dataset output (``WFLW_images/``, ``WFLW_annotations/``)."""
    return dataset.local_dir() / DATASET_DIR


def split_records(*, dataset: StageOutput, index: StageOutput, split: str) -> list[FaceRecord]:
    """The indexed faces of one split as training/evaluation records."""
    from landmark_core.dataset import face_records  # torch: only the stages that train or evaluate need it

    faces = index.manifest()
    return face_records(root=dataset_root(dataset), faces=faces[faces["split"] == split])


def default_workers() -> int:
    """Worker processes for CPU-bound rendering: the machine's cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))
