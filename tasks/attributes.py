"""The ``attributes`` stage: per projected (kept, and accepted when reviewed) face, its StyleFlow condition.

The condition is 17 numbers: the face's source SH lighting (DPR on the aligned face with the published
weights, or the SH fit on the photo against the mean-3D-face normals; both recorded when DPR runs, with their
agreement in the info), yaw/pitch from the head pose, and the other attributes from the chosen provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.attributes import ATTRIBUTE_NAMES, condition_vector, stats_attributes, table_attributes
from gan_core.photo import PhotoError, load_photo
from gan_core.relight_physical import RelightError, estimate_source_sh, face_geometry
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.headpose import estimate_head_pose
from landmark_core.wflw_index import landmarks_array
from tasks.dataset_tree import dataset_root
from tasks.published_weights import weights_path

ATTRIBUTE_COLUMNS = [f"attr_{k}" for k in ATTRIBUTE_NAMES]


@dataclass(frozen=True)
class AttributesConfig:
    """Attributes:
    estimator: ``dpr`` (published DPR weights, also runs the fit for the agreement figure) or ``fit``.
    provider: ``stats`` (StyleFlow's attribute means + head pose) or ``table`` (``table``: CSV/parquet with a
        ``face_id`` column, the WFLW face id, and the attribute columns).
    table: the provider table's path.
    """

    estimator: str = "dpr"
    provider: str = "stats"
    table: str = ""


def _provider_rows(config: AttributesConfig) -> pd.DataFrame | None:
    if config.provider == "stats":
        return None
    if config.provider != "table":
        raise ValueError(f"attributes.provider must be 'stats' or 'table', got {config.provider!r}")
    path = Path(config.table)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "face_id" not in table:
        raise ValueError(f"{path}: the attribute table needs a face_id column")
    return table.set_index("face_id")


def _face_attributes(face_id: str, source: pd.Series, lm: np.ndarray, table: pd.DataFrame | None) -> dict[str, float]:
    pose = estimate_head_pose(landmarks=lm)
    if table is None:
        return stats_attributes(yaw=pose.yaw, pitch=pose.pitch)
    if face_id not in table.index:
        raise ValueError(f"face {face_id} is not in the attribute table")
    return table_attributes(row=table.loc[face_id].to_dict(), yaw=pose.yaw, pitch=pose.pitch)


def sh_agreement(dpr: np.ndarray, fit: np.ndarray) -> dict[str, float]:
    """How far the SH fit is from DPR: max/median abs difference of the coefficients (each vector scaled to unit
    DC term, which removes the albedo scale the fit cannot know), and the median angle (degrees) between their
    light directions in the image plane (first-order X, Z; Y, toward the camera, is confounded with the DC
    term on a face's visible half-sphere)."""
    a, b = dpr / dpr[:, :1], fit / fit[:, :1]
    da, db = a[:, [3, 2]], b[:, [3, 2]]
    cos = (da * db).sum(1) / np.maximum(np.linalg.norm(da, axis=1) * np.linalg.norm(db, axis=1), 1e-12)
    return {
        "faces": len(dpr),
        "max_abs_diff": float(np.abs(a - b).max()),
        "median_abs_diff": float(np.median(np.abs(a - b))),
        "median_direction_angle_deg": float(np.median(np.degrees(np.arccos(np.clip(cos, -1, 1))))),
    }


def _faces(filtered: StageOutput, projected: StageOutput, reviewed: StageOutput | None) -> pd.DataFrame:
    """The projected faces kept by the projector (and accepted by the review, when there is one)."""
    faces = projected.manifest()
    faces = faces[~faces["discarded"].astype(bool)].merge(filtered.manifest()[["detection_id", "aligned_path"]])
    if reviewed is None:
        return faces
    outcome = reviewed.manifest()
    return faces[faces["detection_id"].isin(outcome.loc[outcome["status"] == "accepted", "detection_id"])]


@stage(version=2, gpu=True, shard_by="projected")
def attributes(
    *,
    config: AttributesConfig,
    ctx: StageContext,
    dataset: StageOutput,
    index: StageOutput,
    filtered: StageOutput,
    projected: StageOutput,
    reviewed: StageOutput | None = None,
) -> StageResult:
    """Source lighting, attributes and StyleFlow condition of every kept (and accepted) projected face."""
    from gan_core.dpr import estimate_sh, load_dpr  # torch: imported when the stage runs

    wflw = index.manifest().set_index("face_id")
    table = _provider_rows(config)
    dpr = load_dpr(weights_path(ctx.runtime.weights(), "dpr-512")) if config.estimator == "dpr" else None
    root, rows, quarantine = dataset_root(dataset), [], []
    for _, face in _faces(filtered, projected, reviewed).iterrows():
        source = wflw.loc[face["wflw_face_id"]]
        lm = landmarks_array(wflw.loc[[face["wflw_face_id"]]])[0]
        try:
            photo, _ = load_photo(root / source["image_path"])
            fit = estimate_source_sh(image_bgr=photo, geometry=face_geometry(landmarks=lm, image_shape=photo.shape))
            values = _face_attributes(face["wflw_face_id"], source, lm, table)
        except (PhotoError, RelightError, ValueError) as error:
            quarantine.append({"detection_id": face["detection_id"], "reason": f"{source['image_path']}: {error}"})
            continue
        aligned = cv2.imread(str(filtered.local_dir() / face["aligned_path"]))
        by_dpr = estimate_sh(model=dpr, images_bgr=[aligned])[0] if dpr is not None else None
        sh = by_dpr if by_dpr is not None else fit
        rows.append(
            {
                "detection_id": face["detection_id"],
                "wflw_face_id": face["wflw_face_id"],
                "estimator": config.estimator,
                "sh": sh.tolist(),
                "sh_fit": fit.tolist(),
                "sh_dpr": None if by_dpr is None else by_dpr.tolist(),
                "provider": config.provider,
                **{f"attr_{k}": values[k] for k in ATTRIBUTE_NAMES},
                "condition": condition_vector(sh=sh, attributes=values).tolist(),
            }
        )
    columns = ["detection_id", "wflw_face_id", "estimator", "sh", "sh_fit", "sh_dpr", "provider"]
    manifest = pd.DataFrame(rows, columns=[*columns, *ATTRIBUTE_COLUMNS, "condition"])
    note = "attributes are held fixed during a relight"
    if config.provider == "stats":
        note += "; these are StyleFlow's attribute means with the face's own yaw/pitch, not the face's own attributes"
    info = {"provider": config.provider, "estimator": config.estimator, "note": note}
    if dpr is not None and rows:
        fits = np.array(manifest["sh_fit"].tolist())
        info["dpr_vs_fit"] = sh_agreement(np.array(manifest["sh_dpr"].tolist()), fits)
    quarantine_table = pd.DataFrame(quarantine, columns=["detection_id", "reason"])
    return StageResult(manifest=manifest, quarantine=quarantine_table, info=info)
