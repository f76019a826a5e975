"""The GAN branch's part of the report: a summary of every geometry stage and the study's Fig. 3.9 / 3.14.

Called by the report stage when the profile runs the GAN branch. The summary is the note's figures: images
looked at, detection rate, faces kept by the filter and why the others went, the segmenter's held-out pixel
accuracy and IoU, and the round trip's PSNR inside the face.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.figures import alignment_figure, paste_figure, projection_figure, relight_figure
from gan_core.paste import paste_back
from gan_core.photo import load_photo
from kit.store import StageOutput
from landmark_core.figures import save_figure
from landmark_core.markdown import markdown_table
from landmark_core.wflw_index import landmarks_array
from tasks.align import record_of
from tasks.dataset_tree import dataset_root


@dataclass(frozen=True)
class GanOutputs:
    """The GAN branch's outputs the report reads (the geometry always; the rest when the profile ran it)."""

    aligned: StageOutput
    filtered: StageOutput
    segmenter: StageOutput
    masks: StageOutput
    pasted: StageOutput | None = None
    projected: StageOutput | None = None
    reviewed: StageOutput | None = None
    attributes: StageOutput | None = None
    relit: StageOutput | None = None
    relit_pasted: StageOutput | None = None
    relit_physical: StageOutput | None = None

    @property
    def physical(self) -> StageOutput | None:
        """The physical backend's relit faces, when a row used them (its summary and figure differ)."""
        return self.relit_physical


def gan_summary(gan: GanOutputs) -> str:
    """Markdown: the counts and scores of the GAN branch's stages."""
    aligned, filtered = gan.aligned.metadata()["info"], gan.filtered.metadata()["info"]
    segmenter = gan.segmenter.metadata()["info"]
    pasted = gan.pasted.metadata()["info"] if gan.pasted is not None else {"pasted": 0, "median_psnr_in_face": None}
    images, found = aligned["images"], aligned["images_with_detection"]
    rows = [
        ("images searched", images),
        ("images with a detection", f"{found} ({100 * found / max(images, 1):.1f} %)"),
        ("detections", aligned["detections"]),
        ("kept by the filter", filtered["kept"]),
        *((f"dropped: {reason}", n) for reason, n in sorted(filtered["dropped_by_reason"].items())),
        ("segmenter backbone", segmenter["backbone"]),
        ("segmenter held-out pixel accuracy", f"{100 * segmenter['pixel_accuracy']:.1f} %"),
        ("segmenter held-out IoU", f"{segmenter['iou']:.3f}"),
        ("faces pasted back", pasted["pasted"]),
        ("median PSNR inside the face (unedited round trip)", f"{pasted['median_psnr_in_face']}"),
    ]
    table = pd.DataFrame({"value": [str(v) for _, v in rows]}, index=pd.Index([k for k, _ in rows], name="stage"))
    text = "\n## GAN branch: geometry\n\n" + "\n".join(markdown_table(table)) + "\n"
    text += projection_summary(gan.projected) if gan.projected is not None else ""
    text += review_summary(gan.reviewed) if gan.reviewed is not None else ""
    text += styleflow_summary(gan) if gan.relit is not None else ""
    return text + (relight_summary(gan.physical) if gan.physical is not None else "")


def review_summary(reviewed: StageOutput) -> str:
    """Markdown: the review gate's policy and how many faces it accepted, rejected, and the projector discarded."""
    info = reviewed.metadata()["info"]
    counts = ", ".join(f"{k} {info['counts'].get(k, 0)}" for k in ("accepted", "rejected", "discarded"))
    return f"\n## GAN branch: review\n\nPolicy `{info['policy']}`: {counts}. Only accepted faces are relit.\n"


PASTED_AS = {
    "face": "the relit render, in place of the face (the study's paste)",
    "change": "the change the edit made, added to the photo's face",
}


def styleflow_summary(gan: GanOutputs) -> str:
    """Markdown: the StyleFlow path (condition provider and lighting estimator, variants, pasted faces)."""
    attributes, relit = gan.attributes.metadata()["info"], gan.relit.metadata()["info"]
    rows = [
        ("lighting estimator", attributes["estimator"]),
        ("attributes", f"{attributes['provider']}: {attributes['note']}"),
        ("flow", relit["flow"]),
        ("faces / relit variants", f"{relit['faces']} / {relit['variants']}"),
        ("relit faces pasted back", gan.relit_pasted.metadata()["info"]["pasted"]),
        ("pasted as", PASTED_AS[gan.relit_pasted.metadata()["config"].get("relit", "face")]),
    ]
    if "dpr_vs_fit" in attributes:
        agreement = attributes["dpr_vs_fit"]
        rows.append(
            (
                "SH fit vs DPR",
                f"max abs diff {agreement['max_abs_diff']:.3f}, median direction angle "
                f"{agreement['median_direction_angle_deg']:.1f} deg",
            )
        )
    table = pd.DataFrame({"value": [str(v) for _, v in rows]}, index=pd.Index([k for k, _ in rows], name="styleflow"))
    warning = f"\n**Note:** {relit['warning']}.\n" if relit.get("warning") else ""
    return "\n## GAN branch: StyleFlow relighting\n" + warning + "\n" + "\n".join(markdown_table(table)) + "\n"


def relight_summary(relit: StageOutput) -> str:
    """Markdown: the relighting backend, how many faces it relit, what was quarantined, the controls."""
    meta = relit.metadata()
    info, controls = meta["info"], meta["config"]["variants"]
    rows = [
        ("backend", info["backend"]),
        ("training faces looked at", info["faces"]),
        ("faces relit / quarantined", f"{info['relit_faces']} / {info['quarantined']}"),
        ("relit variants (extra training faces)", info["variants"]),
        (
            "controls",
            f"{controls['n_variants']} variants x {controls['k_lights']} presets, amounts "
            f"{controls['amount_min']}-{controls['amount_max']}, seed {controls['seed']}",
        ),
    ]
    table = pd.DataFrame({"value": [str(v) for _, v in rows]}, index=pd.Index([k for k, _ in rows], name="relight"))
    return "\n## GAN branch: relighting\n\n" + "\n".join(markdown_table(table)) + "\n"


def distance_name(meta: dict) -> str:
    """What the projection's perceptual distance is, from its stage metadata: LPIPS or the twin distance."""
    return "twin distance" if meta["config"]["perceptual"] == "twin" else "LPIPS"


def projection_summary(projected: StageOutput) -> str:
    """Markdown: what projected (and whether the pictures mean anything), kept/discarded, LPIPS, time per face."""
    meta = projected.metadata()
    info, config = meta["info"], meta["config"]["projector"]
    faces = projected.manifest()
    kept = faces[~faces["discarded"].astype(bool)]
    per_face = info.get("seconds_per_face")  # a sharded projection sums its shards' seconds and faces instead
    if per_face is None and info.get("projected_faces"):
        per_face = info["projection_seconds"] / info["projected_faces"]
    rows = [
        ("generator", info.get("generator", "(all faces resumed)")),
        ("perceptual distance", info.get("perceptual", "(all faces resumed)")),
        ("steps per face", config["steps"]),
        (
            "early discard",
            f"loss > {config['discard_loss']} at step {config['discard_step']}"
            if config["discard_loss"] is not None
            else "off",
        ),
        ("faces projected", len(faces)),
        ("kept / discarded", f"{len(kept)} / {len(faces) - len(kept)}"),
        (f"median final {distance_name(meta)} of kept faces", f"{kept['lpips'].median():.4f}" if len(kept) else "-"),
        ("seconds per face", f"{per_face:.2f} on {info['device']}" if per_face else "-"),
    ]
    table = pd.DataFrame({"value": [str(v) for _, v in rows]}, index=pd.Index([k for k, _ in rows], name="project"))
    warning = f"\n**Note:** {info['warning']}.\n" if info.get("warning") else ""
    return "\n## GAN branch: projection\n" + warning + "\n" + "\n".join(markdown_table(table)) + "\n"


def gan_figures(folder: Path, dataset: StageOutput, index: StageOutput, gan: GanOutputs, faces: int = 3) -> list[str]:
    """Fig. 3.9 (crop area and aligned face), Fig. 3.14 (paste without and with the mask), the projections and
    Fig. 3.11 (one relight sheet per backend that ran) for a few faces."""
    kept = gan.filtered.manifest().merge(gan.masks.manifest(), on="detection_id").head(faces)
    if kept.empty or gan.pasted is None:
        return []
    root = dataset_root(dataset)
    photos, quads, aligned, bare, masked = [], [], [], [], []
    pasted = gan.pasted.manifest().set_index("detection_id")
    for _, face in kept.iterrows():
        photo, _ = load_photo(root / face["image_path"])
        image = cv2.imread(str(gan.filtered.local_dir() / face["aligned_path"]))
        record = record_of(face, output_size=image.shape[0])
        photos.append(photo)
        quads.append(record.quad_array())
        aligned.append(image)
        full = np.ones(image.shape[:2], np.float32)
        bare.append(paste_back(photo=photo, aligned=image, alpha=full, record=record)[0])
        masked.append(cv2.imread(str(gan.pasted.local_dir() / pasted.loc[face["detection_id"], "image_path"])))
    for name, fig in (
        ("alignment", alignment_figure(photos=photos, quads=quads, aligned=aligned)),
        ("paste", paste_figure(photos=photos, without_mask=bare, with_mask=masked)),
    ):
        save_figure(fig=fig, path=folder / f"{name}.png")
    names = ["alignment", "paste"] + (_projection_figure(folder, gan, faces) if gan.projected is not None else [])
    for backend, relit in (("styleflow", gan.relit_pasted), ("physical", gan.physical)):
        if relit is None:
            continue
        note = f"relighting backend: {backend}"
        if backend == "styleflow" and gan.relit is not None:
            info, pasted = gan.relit.metadata()["info"], relit.metadata()["config"].get("relit", "face")
            note += f"; {info['generator']}; {info['flow']}; pasted: the relit {pasted}"
        names += _relight_figure(folder, dataset, index, relit, faces, backend, note)
    return names


def _relight_figure(
    folder: Path, dataset: StageOutput, index: StageOutput, relit: StageOutput, faces: int, backend: str, note: str
) -> list[str]:
    """Fig. 3.11 for one backend (``relight_<backend>.png``): the first ``faces`` relit faces, original and
    variants pasted back into the photo, cropped around the landmarks."""
    table = relit.manifest()
    if table.empty:
        return []
    if "source_image_path" not in table:  # the paste of the StyleFlow faces: the photo of the source face
        photos = index.manifest().set_index("face_id")["image_path"]
        table = table.assign(source_image_path=table["source_face_id"].map(photos), presets=None, amounts=None)
    root, here = dataset_root(dataset), relit.local_dir()
    originals, variants, captions = [], [], []
    for _, group in list(table.groupby("source_face_id", sort=False))[:faces]:
        points = landmarks_array(group.head(1))[0]
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        m = 0.25 * max(x1 - x0, y1 - y0)
        box = (slice(max(0, int(y0 - m)), int(y1 + m)), slice(max(0, int(x0 - m)), int(x1 + m)))
        originals.append(load_photo(root / group["source_image_path"].iloc[0])[0][box])
        variants.append([cv2.imread(str(here / p))[box] for p in group["image_path"]])
        captions.append(
            [_caption(ps, am, i) for i, (ps, am) in enumerate(zip(group["presets"], group["amounts"], strict=True))]
        )
    fig = relight_figure(originals=originals, variants=variants, captions=captions, note=note)
    save_figure(fig=fig, path=folder / f"relight_{backend}.png")
    return [f"relight_{backend}"]


def _caption(presets, amounts, variant: int) -> str:
    """A variant's lights (``preset amount, ...``), or its number when the manifest does not say."""
    if presets is None or amounts is None:
        return f"variant {variant}"
    return ", ".join(f"{n} {a:.2f}" for n, a in zip(presets, amounts, strict=True))


def _projection_figure(folder: Path, gan: GanOutputs, faces: int) -> list[str]:
    projected = gan.projected
    rows = projected.manifest().merge(gan.filtered.manifest()[["detection_id", "aligned_path"]], on="detection_id")
    rows = rows[~rows["discarded"].astype(bool)].head(faces)
    if rows.empty:
        return []
    here, meta = projected.local_dir(), projected.metadata()
    fig = projection_figure(
        targets=[cv2.imread(str(gan.filtered.local_dir() / p)) for p in rows["aligned_path"]],
        projected=[cv2.imread(str(here / p)) for p in rows["image_path"]],
        losses=[np.load(here / p, allow_pickle=False) for p in rows["losses_path"]],
        lpips=list(rows["lpips"]),
        discard_step=meta["config"]["projector"]["discard_step"],
        note=meta["info"].get("warning", "") or f"generator: {meta['info'].get('generator', '')}",
        distance_name=distance_name(meta),
    )
    save_figure(fig=fig, path=folder / "projection.png")
    return ["projection"]
