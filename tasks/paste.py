"""The ``paste`` stage: paste aligned (or relit) faces back into their photos through their masks.

Each mask is blurred into an alpha matte and the face is pasted back; every output row is a new WFLW-format
face: a new image, the annotation of the WFLW face it came from, and ``source_face_id``, the format the
training stage's optional ``augmented`` input reads.

A relit face is pasted one of two ways (``PasteConfig.relit``): ``face``, the study's, puts the relit render in
place of the photo's face, so the projection's own error (its missing detail) comes with it; ``change`` adds
the relit render's difference from the face's unedited render to the photo's aligned face, so only what the
edit changed reaches the picture. On the twin, where the relit truth is known, ``change`` is what brings the
relit face closer to the truth than the photo was (``benchmarks/gan_branch.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pandas as pd

from gan_core.paste import alpha_matte, paste_back
from gan_core.photo import load_photo
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from tasks.align import record_of
from tasks.dataset_tree import dataset_root

PASTED_DIR = "WFLW_images/pasted"


@dataclass(frozen=True)
class PasteConfig:
    """Attributes:
    matte_sigma: the alpha matte's Gaussian sigma, as a fraction of the aligned image's side.
    relit: how a relit face is pasted: ``face`` (the relit render replaces the face) or ``change`` (the photo's
        aligned face plus the relit render's difference from the unedited render).
    """

    matte_sigma: float = 0.01
    relit: Literal["face", "change"] = "face"


def _faces(filtered: StageOutput, masks: StageOutput, relit: StageOutput | None) -> pd.DataFrame:
    faces = filtered.manifest().merge(masks.manifest(), on="detection_id")
    if relit is None:
        return faces
    variants = relit.manifest()[["detection_id", "variant", "image_path", "base_path"]]
    return faces.merge(variants.rename(columns={"image_path": "relit_path"}), on="detection_id")


def relit_face(*, aligned: np.ndarray, relit: np.ndarray, base: np.ndarray, mode: str) -> np.ndarray:
    """The aligned face to paste for a relit variant (all ``[S, S, 3]`` uint8 BGR at the aligned side).

    ``face``: the relit render itself; ``change``: the photo's aligned face plus (relit - unedited render).
    """
    if mode == "face":
        return relit
    changed = aligned.astype(np.int16) + relit.astype(np.int16) - base.astype(np.int16)
    return np.clip(changed, 0, 255).astype(np.uint8)


@stage(version=1)
def paste(
    *,
    config: PasteConfig,
    ctx: StageContext,
    dataset: StageOutput,
    index: StageOutput,
    filtered: StageOutput,
    masks: StageOutput,
    relit: StageOutput | None = None,
) -> StageResult:
    """Paste aligned faces back into their photos through their masks; one new WFLW-format face per paste.

    Without ``relit`` the pasted face is the unedited aligned face, which checks the geometry end to end:
    ``psnr_in_face`` compares the result with the photo where the matte is (almost) 1. With ``relit`` (the
    StyleFlow stage's output) every relit variant of every face is pasted (``face_id`` ``paste:<det>:v<i>``).
    """
    faces = _faces(filtered, masks, relit)
    wflw = index.manifest().set_index("face_id")
    root, aligned_dir, mask_dir = dataset_root(dataset), filtered.local_dir(), masks.local_dir()
    rows = []
    for _, face in faces.iterrows():
        photo, _ = load_photo(root / face["image_path"])
        aligned = cv2.imread(str(aligned_dir / face["aligned_path"]))
        suffix = ""
        if relit is not None:
            size = aligned.shape[1::-1]
            rendered = [
                cv2.resize(cv2.imread(str(relit.local_dir() / face[k])), size) for k in ("relit_path", "base_path")
            ]
            aligned = relit_face(aligned=aligned, relit=rendered[0], base=rendered[1], mode=config.relit)
            suffix = f"_v{face['variant']}"
        mask = cv2.imread(str(mask_dir / face["mask_path"]), cv2.IMREAD_GRAYSCALE)
        record = record_of(face, output_size=aligned.shape[0])
        alpha = alpha_matte(mask=mask, sigma=config.matte_sigma * aligned.shape[0])
        pasted, matte = paste_back(photo=photo, aligned=aligned, alpha=alpha, record=record)
        relative = f"{PASTED_DIR}/{Path(face['aligned_path']).stem}{suffix}.png"
        (ctx.work / relative).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(ctx.work / relative), pasted)
        source = wflw.loc[face["wflw_face_id"]]
        inside = matte >= 0.99
        rows.append(
            {
                **source.to_dict(),
                "face_id": f"paste:{face['detection_id']}" + (f":v{face['variant']}" if relit is not None else ""),
                "image_path": relative,
                "source_face_id": face["wflw_face_id"],
                "detection_id": face["detection_id"],
                "psnr_in_face": psnr(pasted[inside], photo[inside]),
            }
        )
    columns = [*wflw.reset_index().columns, "source_face_id", "detection_id", "psnr_in_face"]
    manifest = pd.DataFrame(rows, columns=columns)
    info = {"pasted": len(rows), "median_psnr_in_face": float(manifest["psnr_in_face"].median()) if rows else None}
    return StageResult(manifest=manifest, info=info)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 pixel sets (inf when equal, nan when empty)."""
    if a.size == 0:
        return float("nan")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
