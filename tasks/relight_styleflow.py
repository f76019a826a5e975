"""The ``relight_styleflow`` stage: StyleFlow relighting of the projected W+ codes; relit aligned faces.

Per face, the study's variants (n variants x k presets, seeded amounts) become target lightings; StyleFlow's
flow edits the face's W+ code (rows 7-11), and the generator renders it with the face's own optimised noise
maps: relit aligned faces, which ``paste`` puts back into the photos. Without the published weights (the demo)
the generator and the flow are random stand-ins, and the info and the report say the pictures mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gan_core.sh import relit_target
from gan_core.styleflow_config import FlowConfig
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from tasks.published_weights import ProjectConfig
from tasks.relight_variants import VariantsConfig, face_plan
from tasks.styleflow_edits import edit_info, styleflow_edits

COLUMNS = [
    "detection_id",
    "wflw_face_id",
    "backend",
    "variant",
    "presets",
    "amounts",
    "source_sh",
    "target_sh",
    "image_path",
    "code_change",
]


@dataclass(frozen=True)
class StyleFlowConfig:
    """Attributes:
    flow: ``styleflow-large`` (published) or ``random`` (a stand-in of shape ``random_flow``, seed ``seed``).
    random_flow: the stand-in's shape (its ``dim`` must be the generator's W width).
    variants: variants, presets per variant, amounts, seed (as the physical backend).
    generator: the project stage's config (the codes are rendered with the same generator; the flow sets it).
    batch_size: faces edited at once.
    """

    flow: str = "styleflow-large"
    random_flow: FlowConfig = field(default_factory=lambda: FlowConfig(dim=32, hidden=(64, 64)))
    seed: int = 0
    variants: VariantsConfig = field(default_factory=VariantsConfig)
    generator: ProjectConfig = field(default_factory=ProjectConfig)
    batch_size: int = 8


@stage(version=2, gpu=True, shard_by="attributes", sum_info=("faces", "variants"))
def relight_styleflow(
    *,
    config: StyleFlowConfig,
    ctx: StageContext,
    filtered: StageOutput,
    projected: StageOutput,
    attributes: StageOutput,
) -> StageResult:
    """StyleFlow relighting of every face that has a condition: relit aligned images per variant."""
    from gan_core.styleflow import LIGHTING_ROWS

    def plan(face: pd.Series) -> list[tuple[dict, np.ndarray, tuple[int, int]]]:
        edits = []
        for presets, amounts in face_plan(config.variants, face["detection_id"]):
            target = relit_target(source=np.asarray(face["sh"]), presets=presets, amounts=amounts)
            condition = np.asarray(face["condition"], dtype=np.float32).copy()
            condition[:9] = target
            fields = {"presets": presets, "amounts": amounts, "source_sh": list(face["sh"])}
            edits.append(({**fields, "target_sh": target.tolist()}, condition, LIGHTING_ROWS))
        return edits

    rows, about = styleflow_edits(
        config=config, ctx=ctx, filtered=filtered, projected=projected, attributes=attributes, plan=plan
    )
    manifest = pd.DataFrame([{**r, "backend": "styleflow"} for r in rows], columns=COLUMNS)
    return StageResult(manifest=manifest, info=edit_info(config, about, variants=len(manifest)))
