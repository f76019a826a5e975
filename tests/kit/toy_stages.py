"""Two toy stages for the stage-contract tests (importable, so spawned processes can run them)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pandas as pd

from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult

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


@dataclass(frozen=True)
class AlignedFacesConfig:
    """``faces`` aligned 64x64 images (smooth colour gradients); the ``broken`` ones are not PNGs."""

    faces: int
    broken: tuple[int, ...] = ()


@stage(version=1)
def aligned_faces(*, config: AlignedFacesConfig, ctx: StageContext) -> StageResult:
    """A stand-in for the filter_faces stage's output (``detection_id``, ``aligned_path``, ``wflw_face_id``)."""
    import cv2
    import numpy as np

    (ctx.work / "aligned").mkdir()
    rows = []
    for i in range(config.faces):
        path = f"aligned/img{i}__face_{i}.png"
        yy, xx = np.mgrid[0:64, 0:64]
        image = np.stack([xx * 4, yy * 4, np.full_like(xx, 40 * i)], axis=2).astype(np.uint8)
        if i in config.broken:
            (ctx.work / path).write_bytes(b"not a png")
        else:
            cv2.imwrite(str(ctx.work / path), image)
        rows.append({"detection_id": f"img{i}#{i}", "aligned_path": path, "wflw_face_id": f"wflw{i}"})
    return StageResult(manifest=pd.DataFrame(rows))


@dataclass(frozen=True)
class CollapseConfig:
    """Which training face (by position) gets its 98 landmarks collapsed onto one point."""

    face: int = 0


@stage(version=1)
def collapsed_index(*, config: CollapseConfig, ctx: StageContext, index: StageOutput) -> StageResult:
    """An index whose chosen training face has degenerate landmarks (a face no per-face step can handle)."""
    import numpy as np

    faces = index.manifest()
    broken = faces.index[faces["split"] == "train"][config.face]
    faces.at[broken, "landmarks"] = np.full_like(np.asarray(faces.at[broken, "landmarks"]), 5.0)
    return StageResult(manifest=faces)


@dataclass(frozen=True)
class CropConfig:
    """The side of the square face crops."""

    size: int = 128


@stage(version=1)
def face_crops(*, config: CropConfig, ctx: StageContext, dataset: StageOutput, index: StageOutput) -> StageResult:
    """Aligned-face stand-ins: the face box of each photo resized to a square (a filter_faces-like output)."""
    import cv2

    from tasks.dataset_tree import dataset_root

    (ctx.work / "aligned").mkdir()
    rows = []
    for i, face in index.manifest().iterrows():
        photo = cv2.imread(str(dataset_root(dataset) / face["image_path"]))
        x0, y0, x1, y1 = (int(face[k]) for k in ("bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"))
        path = f"aligned/face_{i}.png"
        cv2.imwrite(str(ctx.work / path), cv2.resize(photo[y0:y1, x0:x1], (config.size, config.size)))
        rows.append({"detection_id": f"det{i}", "aligned_path": path, "wflw_face_id": face["face_id"]})
    return StageResult(manifest=pd.DataFrame(rows))


@dataclass(frozen=True)
class ProjectedConfig:
    """``faces`` projected faces; the last one was discarded at the projector's early check."""

    faces: int = 4


@stage(version=1)
def project(*, config: ProjectedConfig, ctx: StageContext) -> StageResult:
    """A stand-in for the project stage's output (named ``project``, as the review page looks for it)."""
    rows = [
        {
            "detection_id": f"img{i}#0",
            "discarded": i == config.faces - 1,
            "lpips": 0.1 * (i + 1),
            "loss_at_discard_step": 0.5 + i,
            "image_path": f"p{i}.png",
        }
        for i in range(config.faces)
    ]
    return StageResult(manifest=pd.DataFrame(rows))
