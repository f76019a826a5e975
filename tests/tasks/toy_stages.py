"""Two toy stages for the stage-contract tests (importable, so spawned processes can run them)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pandas as pd

from tasks.stage import StageContext, stage
from tasks.store import StageOutput, StageResult

CALLS: list[str] = []  # one entry per computation in this process


@dataclass(frozen=True)
class ToyConfig:
    """``n`` payload files; ``sleep`` and ``die`` change how it runs, not what it makes (not in the key)."""

    n: int = 3
    label: str = "a"
    sleep: float = field(default=0.0, metadata={"key": False})
    die: bool = field(default=False, metadata={"key": False})


@stage(version=1)
def toy(*, config: ToyConfig, ctx: StageContext) -> StageResult:
    """Write ``n`` files of 1000 bytes; quarantine one item."""
    CALLS.append(ctx.key)
    (ctx.work / "payload").mkdir()
    for i in range(config.n):
        (ctx.work / "payload" / f"{i}.txt").write_text((str(i) * 1000)[:1000])
        if config.die:
            os._exit(17)  # a hard crash: no cleanup runs
        time.sleep(config.sleep / max(config.n, 1))
    manifest = pd.DataFrame({"item": range(config.n), "path": [f"payload/{i}.txt" for i in range(config.n)]})
    quarantine = pd.DataFrame({"item": [99], "reason": ["bad input"]})
    return StageResult(manifest=manifest, quarantine=quarantine, info={"note": "toy"})


@stage(version=1)
def toy_down(*, config: ToyConfig, ctx: StageContext, up: StageOutput, extra: StageOutput | None = None) -> StageResult:
    """Count the upstream's items."""
    CALLS.append(ctx.key)
    return StageResult(manifest=pd.DataFrame({"items": [len(up.manifest())], "extra": [extra is not None]}))


@dataclass(frozen=True)
class InvertConfig:
    """Which training faces to copy (inverted), and whether the copies name their source face."""

    faces: tuple[str, ...]
    with_source: bool = True


@stage(version=1)
def inverted_faces(*, config: InvertConfig, ctx: StageContext, dataset: StageOutput, index: StageOutput) -> StageResult:
    """A stand-in for the GAN branch's output: inverted copies of some training faces, same annotations."""
    import cv2

    from tasks.dataset_tree import dataset_root

    faces = index.manifest().set_index("face_id").loc[list(config.faces)].reset_index()
    (ctx.work / "relit").mkdir()
    paths = []
    for i, path in enumerate(faces["image_path"]):
        image = cv2.imread(str(dataset_root(dataset) / path))
        cv2.imwrite(str(ctx.work / "relit" / f"{i}.png"), 255 - image)
        paths.append(f"relit/{i}.png")
    manifest = faces.assign(image_path=paths, face_id=[f"relit-{f}" for f in faces["face_id"]])
    if config.with_source:
        manifest["source_face_id"] = faces["face_id"]
    return StageResult(manifest=manifest)
