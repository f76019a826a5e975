"""The GAN branch's part of the report: a summary of every geometry stage and the study's Fig. 3.9 / 3.14.

Called by the report stage when the profile runs the GAN branch. The summary is the note's figures: images
looked at, detection rate, faces kept by the filter and why the others went, the segmenter's held-out pixel
accuracy and IoU, and the round trip's PSNR inside the face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gan_core.figures import alignment_figure, paste_figure, projection_figure
from gan_core.paste import paste_back
from gan_core.photo import load_photo
from landmark_core.markdown import markdown_table
from tasks.data import DATASET_DIR
from tasks.gan import record_of
from tasks.stage import StageOutput

GAN_STAGES = ("aligned", "filtered", "segmenter", "masks", "pasted", "projected")


def gan_summary(gan: dict[str, StageOutput]) -> str:
    """Markdown: the counts and scores of the GAN branch's stages."""
    aligned, filtered = gan["aligned"].metadata()["info"], gan["filtered"].metadata()["info"]
    segmenter, pasted = gan["segmenter"].metadata()["info"], gan["pasted"].metadata()["info"]
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
    ]  # fmt: skip
    table = pd.DataFrame({"value": [str(v) for _, v in rows]}, index=pd.Index([k for k, _ in rows], name="stage"))
    text = "\n## GAN branch: geometry\n\n" + "\n".join(markdown_table(table)) + "\n"
    return text + (projection_summary(gan["projected"]) if "projected" in gan else "")


def projection_summary(projected: StageOutput) -> str:
    """Markdown: what projected (and whether the pictures mean anything), kept/discarded, LPIPS, time per face."""
    meta = projected.metadata()
    info, config = meta["info"], meta["params"]["projector"]
    faces = projected.manifest()
    kept = faces[~faces["discarded"].astype(bool)]
    per_face = info.get("seconds_per_face")
    rows = [
        ("generator", info.get("generator", "(all faces resumed)")),
        ("perceptual distance", info.get("perceptual", "(all faces resumed)")),
        ("steps per face", config["steps"]),
        ("early discard", f"loss > {config['discard_loss']} at step {config['discard_step']}"
                          if config["discard_loss"] is not None else "off"),
        ("faces projected", len(faces)),
        ("kept / discarded", f"{len(kept)} / {len(faces) - len(kept)}"),
        ("median final LPIPS of kept faces", f"{kept['lpips'].median():.4f}" if len(kept) else "-"),
        ("seconds per face", f"{per_face:.2f} on {info['device']}" if per_face else "-"),
    ]  # fmt: skip
    table = pd.DataFrame({"value": [str(v) for _, v in rows]}, index=pd.Index([k for k, _ in rows], name="project"))
    warning = f"\n**Note:** {info['warning']}.\n" if info.get("warning") else ""
    return "\n## GAN branch: projection\n" + warning + "\n" + "\n".join(markdown_table(table)) + "\n"


def gan_figures(folder: Path, dataset: StageOutput, gan: dict[str, StageOutput], faces: int = 3) -> list[str]:
    """Fig. 3.9 (crop area and aligned face) and Fig. 3.14 (paste without and with the mask) for a few faces."""
    kept = gan["filtered"].manifest().merge(gan["masks"].manifest(), on="detection_id").head(faces)
    if kept.empty:
        return []
    root = dataset.local_dir() / DATASET_DIR
    photos, quads, aligned, bare, masked = [], [], [], [], []
    pasted = gan["pasted"].manifest().set_index("detection_id")
    for _, face in kept.iterrows():
        photo, _ = load_photo(root / face["image_path"])
        image = cv2.imread(str(gan["filtered"].local_dir() / face["aligned_path"]))
        record = record_of(face, output_size=image.shape[0])
        photos.append(photo)
        quads.append(record.quad_array())
        aligned.append(image)
        full = np.ones(image.shape[:2], np.float32)
        bare.append(paste_back(photo=photo, aligned=image, alpha=full, record=record)[0])
        masked.append(cv2.imread(str(gan["pasted"].local_dir() / pasted.loc[face["detection_id"], "image_path"])))
    for name, fig in (("alignment", alignment_figure(photos=photos, quads=quads, aligned=aligned)),
                      ("paste", paste_figure(photos=photos, without_mask=bare, with_mask=masked))):  # fmt: skip
        fig.savefig(folder / f"{name}.png")
        plt.close(fig)
    return ["alignment", "paste"] + (_projection_figure(folder, gan, faces) if "projected" in gan else [])


def _projection_figure(folder: Path, gan: dict[str, StageOutput], faces: int) -> list[str]:
    projected = gan["projected"]
    rows = projected.manifest().merge(gan["filtered"].manifest()[["detection_id", "aligned_path"]], on="detection_id")
    rows = rows[~rows["discarded"].astype(bool)].head(faces)
    if rows.empty:
        return []
    here, meta = projected.local_dir(), projected.metadata()
    fig = projection_figure(
        targets=[cv2.imread(str(gan["filtered"].local_dir() / p)) for p in rows["aligned_path"]],
        projected=[cv2.imread(str(here / p)) for p in rows["image_path"]],
        losses=[np.load(here / p) for p in rows["losses_path"]],
        lpips=list(rows["lpips"]),
        discard_step=meta["params"]["projector"]["discard_step"],
        note=meta["info"].get("warning", ""),
    )
    fig.savefig(folder / "projection.png")
    plt.close(fig)
    return ["projection"]
