"""The StyleFlow edit loop that the lighting edit (``relight_styleflow``) and the attribute edit
(``edit_styleflow``) share: load the flow, edit each face's W+ code, render it, describe the result.

A module of its own so that neither stage imports the other: an edit of one stage never re-keys the other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np
import pandas as pd

from gan_core.styleflow_config import FlowConfig
from kit.stage import StageContext
from kit.store import StageOutput
from tasks.published_weights import RANDOM, TWIN, ProjectConfig, load_generator_for, weights_path

if TYPE_CHECKING:  # torch and the flow are imported when the stage runs: reading its config needs neither
    import torch

    from gan_core.styleflow import SequentialFlow

RELIT_DIR = "relit"
FLOW_MODELS = {
    TWIN: "twin lighting flow (trained by this project on the twin GAN's samples: gan_core/twin_models/flow.pt)",
    RANDOM: "random stand-in",
}


class FlowEditConfig(Protocol):
    """What the shared loop reads of a StyleFlow edit stage's config."""

    flow: str
    random_flow: FlowConfig
    seed: int
    generator: ProjectConfig


def _flow(config: FlowEditConfig, weights_dir: Path | None) -> SequentialFlow:
    import torch

    from gan_core.styleflow import SequentialFlow, load_styleflow

    if config.flow == TWIN:
        from gan_core.twin_models import load_committed_flow

        return load_committed_flow()
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


EditPlan = Callable[[pd.Series], list[tuple[dict, np.ndarray, tuple[int, int]]]]


def styleflow_edits(
    *,
    config: FlowEditConfig,
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
        One manifest row per edit (``detection_id``, ``wflw_face_id``, ``variant``, ``image_path``, ``base_path``
        (the face's unedited code rendered the same way), ``code_change`` and the plan's fields) and the
        generator's description.
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
        stem = Path(face["aligned_path"]).stem
        base = f"{RELIT_DIR}/{stem}_base.png"  # the unedited code, rendered the same way (a paste of the change)
        _render(generator, w, noises, side, ctx.work / base)
        for variant, (fields, condition, edit_rows) in enumerate(plan(face)):
            goal = torch.from_numpy(np.asarray(condition, dtype=np.float32)[None]).to(device)
            edited = edit_codes(flow=flow, w=w, source=source, target=goal, rows=edit_rows)
            relative = f"{RELIT_DIR}/{stem}_v{variant}.png"
            _render(generator, edited, noises, side, ctx.work / relative)
            ids = {"detection_id": face["detection_id"], "wflw_face_id": face["wflw_face_id"], "variant": variant}
            change = float((edited - w).abs().max())
            rows.append({**ids, **fields, "image_path": relative, "base_path": base, "code_change": change})
    return rows, {**about, "faces": len(faces)}


def _render(generator, codes: torch.Tensor, noises: list[torch.Tensor], side: int, path: Path) -> None:
    """Render ``[1, n_latent, D]`` codes with the face's noise maps and write them at the aligned side as PNG."""
    import torch

    with torch.no_grad():
        image = generator.synthesis(codes, noises)[0].float().clamp(-1, 1)
    rgb = ((image + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    cv2.imwrite(str(path), cv2.resize(rgb[..., ::-1], (side, side), interpolation=cv2.INTER_CUBIC))


def edit_info(
    config: FlowEditConfig,
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
        "flow": FLOW_MODELS.get(config.flow, f"{config.flow} (published weights)"),
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
