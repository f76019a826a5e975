"""Data stages: download (thesis profile) or synthesise (demo profile), index, subsets. Thin adapters over
``landmark_core``.

Each reads its input outputs, calls one core function, and returns one stage output through the stage
contract (``tasks.stage.run_stage``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from landmark_core.download import PINS_FILE, WFLW_FILES, fetch_files
from landmark_core.subsets import SubsetConfig, compute_subsets
from landmark_core.synth.dataset import SYNTH_DIR, SynthConfig, synthesize_wflw
from landmark_core.wflw import ANNOTATIONS_DIR, IMAGES_DIR
from landmark_core.wflw_index import index_wflw
from tasks.stage import StageOutput, StageResult, StageSpec, Store, file_manifest, run_stage

DATASET_DIR = "wflw"  # the WFLW root inside a dataset stage output

SYNTH = StageSpec(name="synth_wflw", version=1, modules=("landmark_core.synth", "landmark_core.wflw", "tasks.data"))
DOWNLOAD = StageSpec(name="download_wflw", version=1, modules=("landmark_core.wflw", "tasks.data"))
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


@dataclass(frozen=True)
class WflwSource:
    """Where the real WFLW comes from (the thesis profile's ``[data]`` section).

    Attributes:
        dest: download folder (archives, extracted trees, ``checksums.json``); kept between runs so a re-run
            downloads nothing and an interrupted download resumes. Relative paths are relative to the worker's
            working directory.
        mirror: base URL replacing the official locations (``<mirror>/<archive name>``).
        sha256: (archive name, hex digest) pairs the user vouches for.
        trust_first_download: accept and pin the digest of an archive the project knows no digest for.
    """

    dest: str = "data/WFLW"
    mirror: str | None = None
    sha256: tuple[tuple[str, str], ...] = ()
    trust_first_download: bool = False

    def known_digests(self) -> dict[str, str] | None:
        """The archives' digests known before any download (given or pinned), or None when one is unknown."""
        pins_file = Path(self.dest) / PINS_FILE
        pins = json.loads(pins_file.read_text()) if pins_file.is_file() else {}
        given = dict(self.sha256)
        known = {f.name: (given.get(f.name) or f.sha256 or pins.get(f.name) or "").lower() for f in WFLW_FILES}
        return None if "" in known.values() else known


@dataclass(frozen=True)
class WflwArchives:
    """The download stage's key material: the verified sha256 of every WFLW archive (name, hex) sorted."""

    sha256: tuple[tuple[str, str], ...]


def download_params(digests: dict[str, str]) -> WflwArchives:
    """The download stage's params for the given archive digests."""
    return WflwArchives(sha256=tuple(sorted(digests.items())))


def download_stage(*, store: Store, source: WflwSource) -> tuple[StageOutput, bool]:
    """Fetch (or verify) the WFLW archives, then publish the extracted tree as a dataset stage output.

    The key is the archives' verified sha256, so the same bytes give the same dataset output wherever they were
    downloaded from, and new bytes re-key every downstream stage. Files are copied from ``source.dest``, not
    hard-linked: a later extraction into ``dest`` must never change a published output.
    """
    dest = Path(source.dest)
    report = fetch_files(files=WFLW_FILES, dest=dest, mirror=source.mirror, sha256=dict(source.sha256),
                         trust_first_download=source.trust_first_download)  # fmt: skip

    def compute(work: Path) -> StageResult:
        for folder in (ANNOTATIONS_DIR, IMAGES_DIR):
            if not (dest / folder).is_dir():
                raise FileNotFoundError(f"{dest / folder}: missing after extracting {[f.name for f in WFLW_FILES]}")
            shutil.copytree(dest / folder, work / DATASET_DIR / folder)
        manifest = file_manifest(work=work, under=DATASET_DIR)
        return StageResult(manifest=manifest, info={"archives": report.sha256, "actions": report.actions})

    return run_stage(store=store, spec=DOWNLOAD, params=download_params(report.sha256), inputs={}, compute=compute)


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
