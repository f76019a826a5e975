"""The ``edit_styleflow`` stage: a StyleFlow attribute edit other than lighting (beyond the study: its future
work names a beard), rendered as edited aligned faces that ``paste`` puts back into the photos.

It shares ``relight_styleflow``'s loop (``styleflow_edits``): the same codes, flow, generator and noise maps;
only the target condition differs. Each face gets one variant per target value of the attribute, moved as
StyleFlow's editor moves it (its gain and its W+ rows, ``gan_core.attributes``). Edits that move landmarks (yaw,
pitch, expression) are refused: the edited face would no longer fit its labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gan_core.attributes import ATTRIBUTE_NAMES, ATTRIBUTE_RANGES, EDIT_ROWS, MOVES_LANDMARKS, edit_condition
from gan_core.styleflow_config import FlowConfig
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from tasks.published_weights import ProjectConfig
from tasks.styleflow_edits import edit_info, styleflow_edits

BACKEND = "styleflow_edit"  # the matrix rows' ``relit`` value for these faces
COLUMNS = [
    "detection_id",
    "wflw_face_id",
    "backend",
    "variant",
    "attribute",
    "source_value",
    "target_value",
    "image_path",
    "base_path",
    "code_change",
]


@dataclass(frozen=True)
class AttributeEditConfig:
    """Attributes:
    attribute: the StyleFlow attribute to edit (``beard``, ``glasses``, ``baldness``, ``gender``, ``age``).
    targets: the attribute's values, one variant each, within StyleFlow's range for it.
    flow: ``styleflow-large`` (published), ``twin`` (the committed twin flow: it saw no attribute but lighting
        and pose vary, so its other edits are extrapolations) or ``random`` (a stand-in of shape ``random_flow``).
    generator: the project stage's config (the flow sets it, as for the lighting edit).
    """

    attribute: str = "beard"
    targets: tuple[float, ...] = (1.0,)
    flow: str = "styleflow-large"
    random_flow: FlowConfig = field(default_factory=lambda: FlowConfig(dim=32, hidden=(64, 64)))
    seed: int = 0
    generator: ProjectConfig = field(default_factory=ProjectConfig)

    def __post_init__(self) -> None:
        if self.attribute not in ATTRIBUTE_NAMES:
            raise ValueError(f"attribute {self.attribute!r}: expected one of {', '.join(ATTRIBUTE_NAMES)}")
        if self.attribute in MOVES_LANDMARKS:
            raise ValueError(f"attribute {self.attribute!r} moves landmarks; the edited faces would not fit labels")
        low, high = ATTRIBUTE_RANGES[self.attribute]
        if not self.targets or not all(low <= t <= high for t in self.targets):
            raise ValueError(f"targets {list(self.targets)}: {self.attribute} needs values in [{low}, {high}]")


@stage(version=1, gpu=True, shard_by="attributes", sum_info=("faces", "variants"))
def edit_styleflow(
    *,
    config: AttributeEditConfig,
    ctx: StageContext,
    filtered: StageOutput,
    projected: StageOutput,
    attributes: StageOutput,
) -> StageResult:
    """StyleFlow's edit of one attribute for every face that has a condition: one edited face per target."""
    at = 9 + ATTRIBUTE_NAMES.index(config.attribute)

    def plan(face: pd.Series) -> list[tuple[dict, np.ndarray, tuple[int, int]]]:
        source = np.asarray(face["condition"], dtype=np.float32)
        edits = []
        for target in config.targets:
            condition = edit_condition(source=source, attribute=config.attribute, target=target)
            fields = {"attribute": config.attribute, "source_value": float(source[at]), "target_value": target}
            edits.append((fields, condition, EDIT_ROWS[config.attribute]))
        return edits

    rows, about = styleflow_edits(
        config=config, ctx=ctx, filtered=filtered, projected=projected, attributes=attributes, plan=plan
    )
    manifest = pd.DataFrame([{**r, "backend": BACKEND} for r in rows], columns=COLUMNS)
    info = edit_info(
        config, about, variants=len(manifest), what=f"{config.attribute} editing", pictures="edited", backend=BACKEND
    )
    return StageResult(manifest=manifest, info={**info, "attribute": config.attribute})
