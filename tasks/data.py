"""Data stages: synthesise (demo profile), index, subsets. Thin adapters over ``landmark_core``.

Each reads its input outputs, calls one core function, and returns one stage output through the stage
contract (``tasks.stage.run_stage``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from landmark_core.subsets import SubsetConfig, compute_subsets
from landmark_core.synth.dataset import SYNTH_DIR, SynthConfig, synthesize_wflw
from landmark_core.wflw_index import index_wflw
from tasks.stage import StageOutput, StageResult, StageSpec, Store, file_manifest, run_stage

DATASET_DIR = "wflw"  # the WFLW root inside a dataset stage output

SYNTH = StageSpec(name="synth_wflw", version=1, modules=("landmark_core.synth", "landmark_core.wflw", "tasks.data"))
INDEX = StageSpec(name="index_wflw", version=1, modules=("landmark_core.wflw", "landmark_core.wflw_index"))
SUBSETS = StageSpec(
    name="subsets",
    version=1,
    modules=("landmark_core.subsets", "landmark_core.headpose", "landmark_core:data/mean_face_3d_wflw98.csv"),
)


@dataclass(frozen=True)
class IndexParams:
    """The index stage has no knobs; its key depends only on the dataset manifest."""


def synth_stage(*, store: Store, config: SynthConfig, workers: int = 1) -> tuple[StageOutput, bool]:
    """Render the synthetic twin as a dataset stage output; its manifest lists every file with its sha256."""

    def compute(work: Path) -> StageResult:
        counts = synthesize_wflw(out=work / DATASET_DIR, config=config, workers=workers)
        manifest = file_manifest(work=work, under=DATASET_DIR)
        return StageResult(manifest=manifest, info={"faces": counts, "sidecar": f"{DATASET_DIR}/{SYNTH_DIR}"})

    return run_stage(store=store, spec=SYNTH, params=config, inputs={}, compute=compute)


def index_stage(*, store: Store, dataset: StageOutput) -> tuple[StageOutput, bool]:
    """Index a dataset output (synthetic or downloaded WFLW) into the faces manifest and its quarantine."""

    def compute(work: Path) -> StageResult:
        result = index_wflw(root=dataset.local_dir() / DATASET_DIR)
        counts = result.faces["split"].value_counts().to_dict()
        return StageResult(manifest=result.faces, quarantine=result.quarantine, info={"faces_per_split": counts})

    return run_stage(store=store, spec=INDEX, params=IndexParams(), inputs={"dataset": dataset}, compute=compute)


def subsets_stage(*, store: Store, index: StageOutput, config: SubsetConfig) -> tuple[StageOutput, bool]:
    """Head pose and subset memberships (incl. frontal, frontal_illumination) of every indexed face."""

    def compute(work: Path) -> StageResult:
        return StageResult(manifest=compute_subsets(faces=index.manifest(), config=config))

    return run_stage(store=store, spec=SUBSETS, params=config, inputs={"index": index}, compute=compute)


def default_workers() -> int:
    """Worker processes for CPU-bound rendering: the machine's cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))
