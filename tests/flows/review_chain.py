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
    """``faces`` faces named ``<prefix><i>.png``; projection LPIPS 0.10, 0.15, 0.20, ..."""

    faces: int = 5
    prefix: str = "p"


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
        cv2.imwrite(str(ctx.work / "aligned" / f"a{i}.png"), np.full((64, 64, 3), (30 * i) % 256, np.uint8))
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
        cv2.imwrite(str(ctx.work / "projections" / f"q{i}.png"), np.full((32, 32, 3), (25 * i) % 256, np.uint8))
    manifest = pd.DataFrame(
        {
            "detection_id": [f"{config.prefix}{i}.png#0" for i in range(n)],
            "wflw_face_id": [f"f{i}" for i in range(n)],
            "discarded": [False] * n,
            "lpips": [0.1 + 0.05 * i for i in range(n)],
            "loss_at_discard_step": [0.5] * n,
            "image_path": [f"projections/q{i}.png" for i in range(n)],
        }
    )
    return StageResult(manifest=manifest)


def review_store(root: Path, n: int = 5, prefix: str = "p") -> tuple[Store, StageRef]:
    """A store with the review page's chain of ``n`` faces; the projection's reference."""
    store, config = Store(root), ChainConfig(faces=n, prefix=prefix)
    dataset, _ = synth_wflw.run(store=store, config=config)
    index, _ = index_wflw.run(store=store, config=config, dataset=dataset)
    filtered, _ = filter_faces.run(store=store, config=config, dataset=dataset, index=index)
    projected, _ = project.run(store=store, config=config, filtered=filtered)
    return store, StageRef.of(projected)
