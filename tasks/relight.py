"""The ``relight`` stage, physical backend: every training face of WFLW relit in its photo (thin adapter over
``gan_core.relight_physical``).

For each training face: fit the mean 3D face to its landmarks, estimate its SH lighting, and write
``n_variants`` relit copies of its photo (only that face's region changes; landmarks are unchanged), each
moving toward ``k_lights`` of the six presets by seeded amounts. The manifest is a WFLW face table (the
original annotation, ``image_path`` of the relit photo, ``source_face_id``) plus the backend, the source SH,
the target SH, the presets and the amounts of each variant, so the training stage can use it as its
``augmented`` input. Faces that cannot be relit are quarantined with the reason.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.photo import PhotoError, load_photo
from gan_core.relight_physical import PhysicalConfig, RelightError, estimate_source_sh, face_geometry, relight
from gan_core.sh import plan_variants, relit_target
from landmark_core.wflw_index import landmarks_array
from tasks.data import DATASET_DIR
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage

RELIGHT_PHYSICAL = StageSpec(name="relight_physical", version=1, modules=(
    "gan_core.relight_physical", "gan_core.sh", "gan_core.photo", "landmark_core.headpose",
    "tasks.relight"))  # fmt: skip
RELIT_DIR = "relit"


@dataclass(frozen=True)
class RelightControls:
    """The study's relighting controls: variants per face, presets per variant, amount range, seed."""

    n_variants: int = 3
    k_lights: int = 3
    amount_min: float = 0.3
    amount_max: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class PhysicalParams:
    """What the physical backend relights and how (``max_faces`` 0 = every training face)."""

    controls: RelightControls = field(default_factory=RelightControls)
    physical: PhysicalConfig = field(default_factory=PhysicalConfig)
    max_faces: int = 0


def face_plan(controls: RelightControls, face_id: str) -> list[tuple[list[str], list[float]]]:
    """The variants of one face: seeded by the controls' seed and the face id, so any subset reproduces."""
    seed = (controls.seed * 1_000_003 + zlib.crc32(face_id.encode())) % 2**32
    return plan_variants(n_variants=controls.n_variants, k_lights=controls.k_lights,
                         amount_min=controls.amount_min, amount_max=controls.amount_max, seed=seed)  # fmt: skip


def _relight_face(image: np.ndarray, face: pd.Series, landmarks: np.ndarray, params: PhysicalParams, work: Path):
    geometry = face_geometry(landmarks=landmarks, image_shape=image.shape, config=params.physical)
    source = estimate_source_sh(image_bgr=image, geometry=geometry)
    rows, buffer = [], np.empty_like(image)
    for variant, (presets, amounts) in enumerate(face_plan(params.controls, face["face_id"])):
        target = relit_target(source=source, presets=presets, amounts=amounts)
        relative = f"{RELIT_DIR}/{face['face_id'].replace('/', '__').replace('#', '_')}_v{variant}.png"
        cv2.imwrite(str(work / relative), relight(image_bgr=image, geometry=geometry, source_sh=source,
                                                  target_sh=target, config=params.physical, out=buffer))  # fmt: skip
        rows.append({**face.to_dict(), "face_id": f"relit:{face['face_id']}:v{variant}", "image_path": relative,
                     "source_face_id": face["face_id"], "source_image_path": face["image_path"],
                     "backend": "physical", "variant": variant,
                     "source_sh": source.tolist(), "target_sh": target.tolist(), "presets": presets,
                     "amounts": amounts})  # fmt: skip
    return rows


def relight_physical_stage(*, store: Store, dataset: StageOutput, index: StageOutput,
                           params: PhysicalParams = PhysicalParams()) -> tuple[StageOutput, bool]:  # fmt: skip
    """Relight every training face (the first ``max_faces`` when set) physically."""

    def compute(work: Path) -> StageResult:
        faces = index.manifest()
        faces = faces[faces["split"] == "train"]
        if params.max_faces:
            faces = faces.head(params.max_faces)
        root = dataset.local_dir() / DATASET_DIR
        (work / RELIT_DIR).mkdir()
        rows, quarantine = [], []
        for image_path, group in faces.groupby("image_path", sort=False):
            try:
                image, _ = load_photo(root / image_path)
            except PhotoError as error:
                quarantine += [{"face_id": f, "reason": f"{image_path}: {error}"} for f in group["face_id"]]
                continue
            for (_, face), landmarks in zip(group.iterrows(), landmarks_array(group), strict=True):
                try:
                    rows += _relight_face(image, face, landmarks, params, work)
                except RelightError as error:
                    quarantine.append({"face_id": face["face_id"], "reason": f"{image_path}: {error}"})
        columns = [*faces.columns, "source_face_id", "source_image_path", "backend", "variant", "source_sh",
                   "target_sh", "presets", "amounts"]  # fmt: skip
        manifest = pd.DataFrame(rows, columns=columns)
        info = {"backend": "physical", "faces": len(faces), "relit_faces": manifest["source_face_id"].nunique(),
                "variants": len(manifest), "quarantined": len(quarantine)}  # fmt: skip
        return StageResult(manifest=manifest, quarantine=pd.DataFrame(quarantine, columns=["face_id", "reason"]),
                           info=info)  # fmt: skip

    return run_stage(store=store, spec=RELIGHT_PHYSICAL, params=params, inputs={"dataset": dataset, "index": index},
                     compute=compute)  # fmt: skip
