"""A store with the chain the review page reads (dataset, index, aligned faces, projections), made by stand-in
stages with the real stages' names and manifest columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from kit.prefect_stage import StageRef
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult, Store

FLAGS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")


@dataclass(frozen=True)
class ChainConfig:
    """``faces`` faces named ``<prefix><i>.png``; projection LPIPS 0.10, 0.15, 0.20, ... (``shuffled``: the same
    values in a seeded random order); the last ``discarded`` faces discarded by the projector; ``side``: the
    aligned and projected pictures' size (0: small stand-ins; 1024 as the study's)."""

    faces: int = 5
    prefix: str = "p"
    shuffled: bool = False
    discarded: int = 0
    side: int = 0


def _lpips(config: ChainConfig) -> list[float]:
    values = [round(0.1 + 0.05 * i, 4) for i in range(config.faces)]
    return list(np.random.default_rng(0).permutation(values)) if config.shuffled else values


def _picture(side: int, shade: int) -> np.ndarray:
    """A flat picture with a gradient (compresses like a face, not like a constant)."""
    ramp = np.linspace(0, 60, side, dtype=np.float32)[None, :, None]
    return np.clip(shade + ramp + np.zeros((side, side, 3), np.float32), 0, 255).astype(np.uint8)


@stage(version=1)
def synth_wflw(*, config: ChainConfig, ctx: StageContext) -> StageResult:
    """Photos ``wflw/<prefix><i>.png``."""
    (ctx.work / "wflw").mkdir()
    for i in range(config.faces):
        ok, png = cv2.imencode(".png", np.full((80, 80, 3), (40 * i) % 256, np.uint8))
        (ctx.work / "wflw" / f"{config.prefix}{i}.png").write_bytes(png.tobytes())
    return StageResult(manifest=pd.DataFrame({"path": [f"{config.prefix}{i}.png" for i in range(config.faces)]}))


@stage(version=1)
def index_wflw(*, config: ChainConfig, ctx: StageContext, dataset: StageOutput) -> StageResult:
    """Faces ``f<i>`` with alternating WFLW flags."""
    flags = {f: [i % 2 for i in range(config.faces)] for f in FLAGS}
    return StageResult(manifest=pd.DataFrame({"face_id": [f"f{i}" for i in range(config.faces)], **flags}))


@stage(version=1)
def filter_faces(*, config: ChainConfig, ctx: StageContext, dataset: StageOutput, index: StageOutput) -> StageResult:
    """Aligned faces ``aligned/a<i>.png`` of detections ``p<i>.png#0``."""
    n = config.faces
    (ctx.work / "aligned").mkdir()
    for i in range(n):
        cv2.imwrite(str(ctx.work / "aligned" / f"a{i}.png"), _picture(config.side or 64, (30 * i) % 196))
    manifest = pd.DataFrame(
        {
            "detection_id": [f"{config.prefix}{i}.png#0" for i in range(n)],
            "image_path": [f"{config.prefix}{i}.png" for i in range(n)],
            "det_box": [[10.0, 10.0, 60.0, 60.0]] * n,
            "wflw_face_id": [f"f{i}" for i in range(n)],
            "aligned_path": [f"aligned/a{i}.png" for i in range(n)],
        }
    )
    return StageResult(manifest=manifest)


@stage(version=1)
def project(*, config: ChainConfig, ctx: StageContext, filtered: StageOutput) -> StageResult:
    """Projections ``projections/q<i>.png``, none discarded."""
    n = config.faces
    (ctx.work / "projections").mkdir()
    for i in range(n):
        cv2.imwrite(str(ctx.work / "projections" / f"q{i}.png"), _picture(config.side or 32, (25 * i) % 196))
    manifest = pd.DataFrame(
        {
            "detection_id": [f"{config.prefix}{i}.png#0" for i in range(n)],
            "wflw_face_id": [f"f{i}" for i in range(n)],
            "discarded": [i >= n - config.discarded for i in range(n)],
            "lpips": _lpips(config),
            "loss_at_discard_step": [0.5] * n,
            "image_path": [f"projections/q{i}.png" for i in range(n)],
        }
    )
    return StageResult(manifest=manifest)


def review_store(root: Path, n: int = 5, prefix: str = "p", **options) -> tuple[Store, StageRef]:
    """A store with the review page's chain of ``n`` faces (``options``: the other ChainConfig fields); the
    projection's reference."""
    store, config = Store(root), ChainConfig(faces=n, prefix=prefix, **options)
    dataset, _ = synth_wflw.run(store=store, config=config)
    index, _ = index_wflw.run(store=store, config=config, dataset=dataset)
    filtered, _ = filter_faces.run(store=store, config=config, dataset=dataset, index=index)
    projected, _ = project.run(store=store, config=config, filtered=filtered)
    return store, StageRef.of(projected)
