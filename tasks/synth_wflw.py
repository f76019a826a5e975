"""The ``synth_wflw`` stage: the synthetic WFLW twin (demo profile) as a dataset output.

Its manifest lists every file with its sha256, so any changed byte re-keys every downstream stage.
"""

from __future__ import annotations

from kit.stage import StageContext, stage
from kit.store import StageResult, file_manifest
from landmark_core.synth.dataset import SYNTH_DIR, SynthConfig, synthesize_wflw
from tasks.dataset_tree import DATASET_DIR


@stage(version=1)
def synth_wflw(*, config: SynthConfig, ctx: StageContext) -> StageResult:
    """Render the synthetic twin in the WFLW layout (``ctx.runtime.workers`` processes)."""
    counts = synthesize_wflw(
        out=ctx.work / DATASET_DIR, config=config, workers=ctx.runtime.workers, on_progress=ctx.report
    )
    manifest = file_manifest(work=ctx.work, under=DATASET_DIR)
    return StageResult(manifest=manifest, info={"faces": counts, "sidecar": f"{DATASET_DIR}/{SYNTH_DIR}"})
