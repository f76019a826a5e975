"""The ``relight_physical`` stage: every training face of WFLW relit in its photo (the physical backend).

For each training face: fit the mean 3D face to its landmarks, estimate its SH lighting, and write
``n_variants`` relit copies of its photo (only that face's region changes; landmarks are unchanged), each
moving toward ``k_lights`` of the six presets by seeded amounts. The manifest is a WFLW face table (the
original annotation, ``image_path`` of the relit photo, ``source_face_id``) plus the backend, the source SH,
the target SH, the presets and the amounts of each variant, so the training stage can use it as its
``augmented`` input. Faces that cannot be relit are quarantined with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.photo import PhotoError, load_photo
from gan_core.relight_physical import PhysicalConfig, RelightError, estimate_source_sh, face_geometry, relight
from gan_core.sh import relit_target
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.wflw_index import landmarks_array
from tasks.dataset_tree import dataset_root
from tasks.relight_variants import VariantsConfig, face_plan

RELIT_DIR = "relit"


@dataclass(frozen=True)
class PhysicalRelightConfig:
    """What the physical backend relights and how (``max_faces`` 0 = every training face)."""

    variants: VariantsConfig = field(default_factory=VariantsConfig)
    physical: PhysicalConfig = field(default_factory=PhysicalConfig)
    max_faces: int = 0


def _relight_face(image: np.ndarray, face: pd.Series, landmarks: np.ndarray, config: PhysicalRelightConfig, work: Path):
    geometry = face_geometry(landmarks=landmarks, image_shape=image.shape, config=config.physical)
    source = estimate_source_sh(image_bgr=image, geometry=geometry)
    rows, buffer = [], np.empty_like(image)
    for variant, (presets, amounts) in enumerate(face_plan(config.variants, face["face_id"])):
        target = relit_target(source=source, presets=presets, amounts=amounts)
        relative = f"{RELIT_DIR}/{face['face_id'].replace('/', '__').replace('#', '_')}_v{variant}.png"
        relit = relight(
            image_bgr=image, geometry=geometry, source_sh=source, target_sh=target, config=config.physical, out=buffer
        )
        cv2.imwrite(str(work / relative), relit)
        rows.append(
            {
                **face.to_dict(),
                "face_id": f"relit:{face['face_id']}:v{variant}",
                "image_path": relative,
                "source_face_id": face["face_id"],
                "source_image_path": face["image_path"],
                "backend": "physical",
                "variant": variant,
                "source_sh": source.tolist(),
                "target_sh": target.tolist(),
                "presets": presets,
                "amounts": amounts,
            }
        )
    return rows


@stage(version=2)
def relight_physical(
    *, config: PhysicalRelightConfig, ctx: StageContext, dataset: StageOutput, index: StageOutput
) -> StageResult:
    """Relight every training face (the first ``max_faces`` when set) physically."""
    faces = index.manifest()
    faces = faces[faces["split"] == "train"]
    if config.max_faces:
        faces = faces.head(config.max_faces)
    root = dataset_root(dataset)
    (ctx.work / RELIT_DIR).mkdir()
    rows, quarantine = [], []
    for image_path, group in faces.groupby("image_path", sort=False):
        try:
            image, _ = load_photo(root / image_path)
        except PhotoError as error:
            quarantine += [{"face_id": f, "reason": f"{image_path}: {error}"} for f in group["face_id"]]
            continue
        for (_, face), landmarks in zip(group.iterrows(), landmarks_array(group), strict=True):
            try:
                rows += _relight_face(image, face, landmarks, config, ctx.work)
            except RelightError as error:
                quarantine.append({"face_id": face["face_id"], "reason": f"{image_path}: {error}"})
    extra = [
        "source_face_id",
        "source_image_path",
        "backend",
        "variant",
        "source_sh",
        "target_sh",
        "presets",
        "amounts",
    ]
    manifest = pd.DataFrame(rows, columns=[*faces.columns, *extra])
    info = {
        "backend": "physical",
        "faces": len(faces),
        "relit_faces": manifest["source_face_id"].nunique(),
        "variants": len(manifest),
        "quarantined": len(quarantine),
    }
    return StageResult(manifest=manifest, quarantine=pd.DataFrame(quarantine, columns=["face_id", "reason"]), info=info)
