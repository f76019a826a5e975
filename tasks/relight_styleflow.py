"""The ``relight_styleflow`` stage: StyleFlow relighting of the projected W+ codes; relit aligned faces.

Per face, the study's variants (n variants x k presets, seeded amounts) become target lightings; StyleFlow's
flow edits the face's W+ code (rows 7-11 of the published generator's 18; ``w_rows``), and the generator
renders it with the face's own optimised noise maps: relit aligned faces, which ``paste`` puts back into the
photos. The demo runs the twin models the project trained itself (``gan_core/twin_models``: a 64 px generator
and a flow on its samples, ``flow = "twin"``); with ``random`` stand-ins instead the info and the report say
the pictures mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gan_core.sh import relit_target
from gan_core.styleflow_config import LIGHTING_ROWS, FlowConfig
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
    "base_path",
    "code_change",
]


@dataclass(frozen=True)
class StyleFlowConfig:
    """Attributes:
    flow: ``styleflow-large`` (published), ``twin`` (the committed twin flow, for the twin generator) or
        ``random`` (a stand-in of shape ``random_flow``, seed ``seed``).
    random_flow: the stand-in's shape (its ``dim`` must be the generator's W width).
    w_rows: the W+ rows ``[first, last)`` taken from the edited code (StyleFlow's 7-11 of 18 at 1024 px; the
        twin's 64 px generator has 10 rows, whose first 6 (4 to 16 px) carry its shading).
    variants: variants, presets per variant, amounts, seed (as the physical backend).
    generator: the project stage's config (the codes are rendered with the same generator; the flow sets it).
    batch_size: faces edited at once.
    """

    flow: str = "styleflow-large"
    random_flow: FlowConfig = field(default_factory=lambda: FlowConfig(dim=32, hidden=(64, 64)))
    w_rows: tuple[int, int] = LIGHTING_ROWS
    seed: int = 0
    variants: VariantsConfig = field(default_factory=VariantsConfig)
    generator: ProjectConfig = field(default_factory=ProjectConfig)
    batch_size: int = 8

    def __post_init__(self) -> None:
        first, last = self.w_rows
        if not 0 <= first < last:
            raise ValueError(f"w_rows must be [first, last) with 0 <= first < last, got {list(self.w_rows)}")


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

    def plan(face: pd.Series) -> list[tuple[dict, np.ndarray, tuple[int, int]]]:
        edits = []
        for presets, amounts in face_plan(config.variants, face["detection_id"]):
            target = relit_target(source=np.asarray(face["sh"]), presets=presets, amounts=amounts)
            condition = np.asarray(face["condition"], dtype=np.float32).copy()
            condition[:9] = target
            fields = {"presets": presets, "amounts": amounts, "source_sh": list(face["sh"])}
            edits.append(({**fields, "target_sh": target.tolist()}, condition, config.w_rows))
        return edits

    rows, about = styleflow_edits(
        config=config, ctx=ctx, filtered=filtered, projected=projected, attributes=attributes, plan=plan
    )
    manifest = pd.DataFrame([{**r, "backend": "styleflow"} for r in rows], columns=COLUMNS)
    return StageResult(manifest=manifest, info=edit_info(config, about, variants=len(manifest)))
