"""The ``download_wflw`` stage: the real WFLW (thesis profile) as a dataset output.

``fetch_wflw`` (run first, by the flow or ``eltrepro data fetch``) downloads the archives into a folder,
resumably, and verifies or pins their sha256. The stage then publishes the extracted tree, keyed by the
archives' verified digests only: the same bytes give the same dataset output wherever they were downloaded
from, and new bytes re-key every downstream stage. Files are copied, not hard-linked: a later extraction into
the download folder must never change a published output.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kit.stage import StageContext, stage
from kit.store import StageResult, file_manifest
from landmark_core.download import PINS_FILE, WFLW_FILES, fetch_files
from landmark_core.wflw import ANNOTATIONS_DIR, IMAGES_DIR
from tasks.dataset_tree import DATASET_DIR


@dataclass(frozen=True)
class WflwSourceConfig:
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
class DownloadConfig:
    """The download stage's config: the verified sha256 of every archive (name, hex), and where they are.

    ``dest`` is where the extracted tree was found; it is not part of the key.
    """

    sha256: tuple[tuple[str, str], ...]
    dest: str = field(default="data/WFLW", metadata={"key": False})


def fetch_wflw(source: WflwSourceConfig, progress=None) -> tuple[DownloadConfig, dict[str, str]]:
    """Download (or verify) the archives into ``source.dest``; the stage config and what was done per file.

    Raises:
        DownloadError: a download failed or a digest differs (the file is named).
    """
    report = fetch_files(
        files=WFLW_FILES,
        dest=Path(source.dest),
        mirror=source.mirror,
        sha256=dict(source.sha256),
        trust_first_download=source.trust_first_download,
        progress=progress,
    )
    return DownloadConfig(sha256=tuple(sorted(report.sha256.items())), dest=source.dest), report.actions


@stage(version=1)
def download_wflw(*, config: DownloadConfig, ctx: StageContext) -> StageResult:
    """Publish the extracted WFLW tree found in ``config.dest``."""
    dest = Path(config.dest)
    for folder in (ANNOTATIONS_DIR, IMAGES_DIR):
        if not (dest / folder).is_dir():
            raise FileNotFoundError(f"{dest / folder}: missing after extracting {[f.name for f in WFLW_FILES]}")
        shutil.copytree(dest / folder, ctx.work / DATASET_DIR / folder)
    manifest = file_manifest(work=ctx.work, under=DATASET_DIR)
    return StageResult(manifest=manifest, info={"archives": dict(config.sha256)})
