"""The GAN path's relighting stages (thin adapters over ``gan_core``): ``attributes`` and ``relight_styleflow``.

``attributes``: per projected (kept) face, its source SH lighting (DPR on the aligned face with the published
weights, or the SH fit on the photo against the mean-3D-face normals; both recorded when DPR runs, with their
agreement in the info), yaw/pitch from the head pose, the other attributes from the chosen provider, and the
resulting 17-number StyleFlow condition.

``relight_styleflow``: per face, the study's controls (n variants x k presets, seeded amounts) become target
lightings; StyleFlow's flow edits the face's W+ code (rows 7-11), and the generator renders it with the face's
own optimised noise maps: relit aligned faces, which ``paste`` puts back into the photos.

Without the published weights (the demo) both the generator and the flow are random stand-ins and every
manifest and the report say the pictures mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from gan_core.attributes import ATTRIBUTE_NAMES, condition_vector, stats_attributes, table_attributes
from gan_core.dpr import estimate_sh, load_dpr
from gan_core.photo import PhotoError, load_photo
from gan_core.relight_physical import RelightError, estimate_source_sh, face_geometry
from gan_core.sh import relit_target
from gan_core.styleflow import FlowConfig, SequentialFlow, load_styleflow, relight_codes
from landmark_core.headpose import estimate_head_pose
from landmark_core.wflw_index import landmarks_array
from tasks.data import DATASET_DIR
from tasks.project import RANDOM, ProjectParams, load_generator_for, weights_path
from tasks.relight import RelightControls, face_plan
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage

ATTRIBUTES = StageSpec(name="attributes", version=1, modules=(
    "gan_core.attributes", "gan_core.dpr", "gan_core.sh", "gan_core.relight_physical", "landmark_core.headpose",
    "tasks.relight_gan"))  # fmt: skip
RELIGHT_STYLEFLOW = StageSpec(name="relight_styleflow", version=1, modules=(
    "gan_core.styleflow", "gan_core.sh", "gan_core.stylegan2", "gan_core.stylegan2_weights", "gan_core.upfirdn",
    "tasks.relight_gan"))  # fmt: skip
RELIT_DIR = "relit"


@dataclass(frozen=True)
class AttributesParams:
    """Attributes:
    estimator: ``dpr`` (published DPR weights, also runs the fit for the agreement figure) or ``fit``.
    provider: ``stats`` (StyleFlow's attribute means + head pose) or ``table`` (``table``: CSV/parquet with a
        ``face_id`` column, the WFLW face id, and the attribute columns).
    table: the provider table's path.
    """

    estimator: str = "dpr"
    provider: str = "stats"
    table: str = ""


def _provider_rows(params: AttributesParams) -> pd.DataFrame | None:
    if params.provider == "stats":
        return None
    if params.provider != "table":
        raise ValueError(f"attributes.provider must be 'stats' or 'table', got {params.provider!r}")
    path = Path(params.table)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "face_id" not in table:
        raise ValueError(f"{path}: the attribute table needs a face_id column")
    return table.set_index("face_id")


def _face_attributes(face_id: str, source: pd.Series, lm: np.ndarray, table: pd.DataFrame | None) -> dict[str, float]:
    pose = estimate_head_pose(landmarks=lm, width=int(source["image_width"]), height=int(source["image_height"]))
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
    return {"faces": len(dpr), "max_abs_diff": float(np.abs(a - b).max()),
            "median_abs_diff": float(np.median(np.abs(a - b))),
            "median_direction_angle_deg": float(np.median(np.degrees(np.arccos(np.clip(cos, -1, 1)))))}  # fmt: skip


def attributes_stage(*, store: Store, dataset: StageOutput, index: StageOutput, filtered: StageOutput,
                     projected: StageOutput, params: AttributesParams = AttributesParams(),
                     weights_dir: Path | None = None,
                     reviewed: StageOutput | None = None) -> tuple[StageOutput, bool]:  # fmt: skip
    """Source lighting, attributes and StyleFlow condition of every kept projected face (with ``reviewed``, the
    review stage's output: only the accepted ones)."""

    def compute(work: Path) -> StageResult:
        faces = projected.manifest()
        faces = faces[~faces["discarded"].astype(bool)].merge(filtered.manifest()[["detection_id", "aligned_path"]])
        if reviewed is not None:
            outcome = reviewed.manifest()
            faces = faces[faces["detection_id"].isin(outcome.loc[outcome["status"] == "accepted", "detection_id"])]
        wflw = index.manifest().set_index("face_id")
        table = _provider_rows(params)
        dpr = load_dpr(weights_path(weights_dir, "dpr-512")) if params.estimator == "dpr" else None
        root, rows, quarantine = dataset.local_dir() / DATASET_DIR, [], []
        for _, face in faces.iterrows():
            source = wflw.loc[face["wflw_face_id"]]
            lm = landmarks_array(wflw.loc[[face["wflw_face_id"]]])[0]
            try:
                photo, _ = load_photo(root / source["image_path"])
                fit = estimate_source_sh(image_bgr=photo, geometry=face_geometry(landmarks=lm, image_shape=photo.shape))
                attributes = _face_attributes(face["wflw_face_id"], source, lm, table)
            except (PhotoError, RelightError, ValueError) as error:
                quarantine.append({"detection_id": face["detection_id"], "reason": f"{source['image_path']}: {error}"})
                continue
            aligned = cv2.imread(str(filtered.local_dir() / face["aligned_path"]))
            by_dpr = estimate_sh(model=dpr, images_bgr=[aligned])[0] if dpr is not None else None
            sh = by_dpr if by_dpr is not None else fit
            rows.append({"detection_id": face["detection_id"], "wflw_face_id": face["wflw_face_id"],
                         "estimator": params.estimator, "sh": sh.tolist(), "sh_fit": fit.tolist(),
                         "sh_dpr": None if by_dpr is None else by_dpr.tolist(), "provider": params.provider,
                         **{f"attr_{k}": attributes[k] for k in ATTRIBUTE_NAMES},
                         "condition": condition_vector(sh=sh, attributes=attributes).tolist()})  # fmt: skip
        columns = ["detection_id", "wflw_face_id", "estimator", "sh", "sh_fit", "sh_dpr", "provider",
                   *[f"attr_{k}" for k in ATTRIBUTE_NAMES], "condition"]  # fmt: skip
        manifest = pd.DataFrame(rows, columns=columns)
        info = {"provider": params.provider, "estimator": params.estimator,
                "note": "attributes are held fixed during a relight" + (
                    "; these are StyleFlow's attribute means with the face's own yaw/pitch, not the face's own "
                    "attributes" if params.provider == "stats" else "")}  # fmt: skip
        if dpr is not None and rows:
            info["dpr_vs_fit"] = sh_agreement(
                np.array(manifest["sh_dpr"].tolist()), np.array(manifest["sh_fit"].tolist())
            )
        return StageResult(manifest=manifest, quarantine=pd.DataFrame(quarantine, columns=["detection_id", "reason"]),
                           info=info)  # fmt: skip

    inputs = {"dataset": dataset, "index": index, "filtered": filtered, "projected": projected}
    inputs |= {"reviewed": reviewed} if reviewed is not None else {}
    return run_stage(store=store, spec=ATTRIBUTES, params=params, inputs=inputs, compute=compute)


@dataclass(frozen=True)
class StyleFlowParams:
    """Attributes:
    flow: ``styleflow-large`` (published) or ``random`` (a stand-in of shape ``random_flow``, seed ``seed``).
    random_flow: the stand-in's shape (its ``dim`` must be the generator's W width).
    controls: variants, presets per variant, amounts, seed (as the physical backend).
    generator: the project stage's generator settings (the codes are rendered with the same generator).
    batch_size: faces edited at once.
    """

    flow: str = "styleflow-large"
    random_flow: FlowConfig = field(default_factory=lambda: FlowConfig(dim=32, hidden=(64, 64)))
    seed: int = 0
    controls: RelightControls = field(default_factory=RelightControls)
    generator: ProjectParams = field(default_factory=ProjectParams)
    batch_size: int = 8


def _flow(params: StyleFlowParams, weights_dir: Path | None) -> SequentialFlow:
    if params.flow != RANDOM:
        return load_styleflow(weights_path(weights_dir, params.flow))
    torch.manual_seed(params.seed)
    flow = SequentialFlow(params.random_flow)
    with torch.no_grad():  # a stand-in that actually moves codes: small random weights everywhere
        for p in flow.parameters():
            p.normal_(0.0, 0.1)
    return flow


def relight_styleflow_stage(*, store: Store, filtered: StageOutput, projected: StageOutput, attributes: StageOutput,
                            params: StyleFlowParams = StyleFlowParams(),
                            weights_dir: Path | None = None) -> tuple[StageOutput, bool]:  # fmt: skip
    """StyleFlow relighting of every face that has a condition: relit aligned images per variant."""

    def compute(work: Path) -> StageResult:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        generator, about = load_generator_for(params=params.generator, weights_dir=weights_dir, device=device)
        flow = _flow(params, weights_dir).to(device)
        faces = attributes.manifest().merge(projected.manifest()[["detection_id", "latent_path", "noises_path"]])
        faces = faces.merge(filtered.manifest()[["detection_id", "aligned_path"]])
        here, rows = projected.local_dir(), []
        (work / RELIT_DIR).mkdir()
        for _, face in faces.iterrows():
            w = torch.from_numpy(np.load(here / face["latent_path"]))[None].to(device)
            noise_file = np.load(here / face["noises_path"])
            noises = [torch.from_numpy(noise_file[f"noise_{i}"])[None].to(device) for i in range(len(noise_file.files))]
            source = torch.from_numpy(np.asarray(face["condition"], dtype=np.float32)[None]).to(device)
            side = cv2.imread(str(filtered.local_dir() / face["aligned_path"])).shape[0]
            for variant, (presets, amounts) in enumerate(face_plan(params.controls, face["detection_id"])):
                target = relit_target(source=np.asarray(face["sh"]), presets=presets, amounts=amounts)
                goal = torch.from_numpy(target.astype(np.float32)[None]).to(device)
                edited = relight_codes(flow=flow, w=w, source=source, target_sh=goal)
                with torch.no_grad():
                    image = generator.synthesis(edited, noises)[0].float().clamp(-1, 1)
                rgb = ((image + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
                relative = f"{RELIT_DIR}/{Path(face['aligned_path']).stem}_v{variant}.png"
                cv2.imwrite(
                    str(work / relative), cv2.resize(rgb[..., ::-1], (side, side), interpolation=cv2.INTER_CUBIC)
                )
                rows.append({"detection_id": face["detection_id"], "wflw_face_id": face["wflw_face_id"],
                             "backend": "styleflow", "variant": variant, "presets": presets, "amounts": amounts,
                             "source_sh": list(face["sh"]),
                             "target_sh": target.tolist(), "image_path": relative,
                             "code_change": float((edited - w).abs().max())})  # fmt: skip
        columns = ["detection_id", "wflw_face_id", "backend", "variant", "presets", "amounts", "source_sh",
                   "target_sh", "image_path", "code_change"]  # fmt: skip
        manifest = pd.DataFrame(rows, columns=columns)
        meaningful = about.get("meaningful", False) and params.flow != RANDOM
        info = {"backend": "styleflow", "flow": params.flow, "generator": about.get("generator"), "faces": len(faces),
                "variants": len(manifest), "meaningful": meaningful}  # fmt: skip
        if not meaningful:
            info["warning"] = ("StyleFlow relighting ran with stand-in weights: the pipeline mechanics ran end to end, "
                               "the relit pictures are not meaningful")  # fmt: skip
        return StageResult(manifest=manifest, info=info)

    inputs = {"filtered": filtered, "projected": projected, "attributes": attributes}
    return run_stage(store=store, spec=RELIGHT_STYLEFLOW, params=params, inputs=inputs, compute=compute)
