"""The ``relight_styleflow`` stage: StyleFlow relighting of the projected W+ codes; relit aligned faces.

Per face, the study's variants (n variants x k presets, seeded amounts) become target lightings; StyleFlow's
flow edits the face's W+ code (rows 7-11), and the generator renders it with the face's own optimised noise
maps: relit aligned faces, which ``paste`` puts back into the photos. Without the published weights (the demo)
the generator and the flow are random stand-ins, and the info and the report say the pictures mean nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from gan_core.sh import relit_target
from gan_core.styleflow_config import FlowConfig
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from tasks.published_weights import RANDOM, ProjectConfig, load_generator_for, weights_path
from tasks.relight_variants import VariantsConfig, face_plan

if TYPE_CHECKING:  # torch and the flow are imported when the stage runs: reading its config needs neither
    import torch

    from gan_core.styleflow import SequentialFlow
    from tasks.edit_styleflow import AttributeEditConfig

RELIT_DIR = "relit"
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


def _flow(config: StyleFlowConfig | AttributeEditConfig, weights_dir: Path | None) -> SequentialFlow:
    import torch

    from gan_core.styleflow import SequentialFlow, load_styleflow

    if config.flow != RANDOM:
        return load_styleflow(weights_path(weights_dir, config.flow))
    torch.manual_seed(config.seed)
    flow = SequentialFlow(config.random_flow)
    with torch.no_grad():  # a stand-in that actually moves codes: small random weights everywhere
        for p in flow.parameters():
            p.normal_(0.0, 0.1)
    return flow


def _load_codes(here: Path, face: pd.Series, device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One face's W+ code ``[1, 18, 512]`` and its noise maps ``[1, 1, r, r]`` each."""
    import torch

    w = torch.from_numpy(np.load(here / face["latent_path"], allow_pickle=False))[None].to(device)
    noise_file = np.load(here / face["noises_path"], allow_pickle=False)
    noises = [torch.from_numpy(noise_file[f"noise_{i}"])[None].to(device) for i in range(len(noise_file.files))]
    return w, noises


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


EditPlan = Callable[[pd.Series], list[tuple[dict, np.ndarray, tuple[int, int]]]]


def styleflow_edits(
    *,
    config: StyleFlowConfig | AttributeEditConfig,
    ctx: StageContext,
    filtered: StageOutput,
    projected: StageOutput,
    attributes: StageOutput,
    plan: EditPlan,
) -> tuple[list[dict], dict]:
    """Edit every face that has a condition with StyleFlow and render it: the loop the lighting edit and the
    attribute edits share.

    Args:
        config: the flow, its stand-in and the generator.
        ctx, filtered, projected, attributes: the stage's context and inputs.
        plan: face -> its edits, each (manifest fields, target condition ``[17]``, W+ rows to take).

    Returns:
        One manifest row per edit (``detection_id``, ``wflw_face_id``, ``variant``, ``image_path``,
        ``code_change`` and the plan's fields) and the generator's description.
    """
    import torch

    from gan_core.styleflow import edit_codes
    from landmark_core.device import resolve_device

    device = resolve_device(ctx.runtime.device)
    weights = ctx.runtime.weights()
    generator, about = load_generator_for(config=config.generator, weights_dir=weights, device=device)
    flow = _flow(config, weights).to(device)
    faces = attributes.manifest().merge(projected.manifest()[["detection_id", "latent_path", "noises_path"]])
    faces = faces.merge(filtered.manifest()[["detection_id", "aligned_path"]])
    rows = []
    (ctx.work / RELIT_DIR).mkdir()
    for _, face in faces.iterrows():
        w, noises = _load_codes(projected.local_dir(), face, device)
        source = torch.from_numpy(np.asarray(face["condition"], dtype=np.float32)[None]).to(device)
        side = cv2.imread(str(filtered.local_dir() / face["aligned_path"])).shape[0]
        for variant, (fields, condition, edit_rows) in enumerate(plan(face)):
            goal = torch.from_numpy(np.asarray(condition, dtype=np.float32)[None]).to(device)
            edited = edit_codes(flow=flow, w=w, source=source, target=goal, rows=edit_rows)
            with torch.no_grad():
                image = generator.synthesis(edited, noises)[0].float().clamp(-1, 1)
            rgb = ((image + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
            relative = f"{RELIT_DIR}/{Path(face['aligned_path']).stem}_v{variant}.png"
            cv2.imwrite(
                str(ctx.work / relative), cv2.resize(rgb[..., ::-1], (side, side), interpolation=cv2.INTER_CUBIC)
            )
            ids = {"detection_id": face["detection_id"], "wflw_face_id": face["wflw_face_id"], "variant": variant}
            rows.append({**ids, **fields, "image_path": relative, "code_change": float((edited - w).abs().max())})
    return rows, {**about, "faces": len(faces)}


def edit_info(
    config: StyleFlowConfig | AttributeEditConfig,
    about: dict,
    *,
    variants: int,
    what: str = "relighting",
    pictures: str = "relit",
    backend: str = "styleflow",
) -> dict:
    """The stage info of a StyleFlow edit: the flow, the generator, counts, and whether the pictures mean anything."""
    meaningful = about.get("meaningful", False) and config.flow != RANDOM
    info = {
        "backend": backend,
        "flow": config.flow,
        "generator": about.get("generator"),
        "faces": about["faces"],
        "variants": variants,
        "meaningful": meaningful,
    }
    if not meaningful:
        info["warning"] = (
            f"StyleFlow {what} ran with stand-in weights: the pipeline mechanics ran end to end, "
            f"the {pictures} pictures are not meaningful"
        )
    return info
