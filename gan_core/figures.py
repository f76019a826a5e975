"""Figures of the GAN branch's geometry, like the study's Fig. 3.9 (the crop area in the photo and the aligned
face) and Fig. 3.14 (a face pasted back without and with the segmentation mask). Pure functions returning
matplotlib figures (Agg backend, imported on the first figure: ``landmark_core.figures.pyplot``); images are BGR
as OpenCV reads them.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from landmark_core.figures import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def alignment_figure(*, photos: list[np.ndarray], quads: list[np.ndarray], aligned: list[np.ndarray]) -> Figure:
    """One row per face: the photo with the FFHQ quad drawn (its top edge thicker), and the aligned image.

    Args:
        photos: (H, W, 3) uint8 BGR photos.
        quads: (4, 2) quads in photo pixels (top-left, bottom-left, bottom-right, top-right).
        aligned: (S, S, 3) uint8 BGR aligned faces.
    """
    fig, axes = pyplot().subplots(len(photos), 2, figsize=(7.0, 3.4 * len(photos)), dpi=100, squeeze=False)
    for i, (photo, quad, face) in enumerate(zip(photos, quads, aligned, strict=True)):
        axes[i, 0].imshow(photo[..., ::-1])
        closed = np.vstack([quad, quad[:1]])
        axes[i, 0].plot(closed[:, 0] - 0.5, closed[:, 1] - 0.5, color="yellow", linewidth=1.2)
        top = quad[[0, 3]]
        axes[i, 0].plot(top[:, 0] - 0.5, top[:, 1] - 0.5, color="red", linewidth=2.5)
        axes[i, 1].imshow(face[..., ::-1])
        for ax, title in zip(axes[i], ("crop area (quad) in the photo", "aligned"), strict=True):
            ax.set_title(title, fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def paste_figure(*, photos: list[np.ndarray], without_mask: list[np.ndarray], with_mask: list[np.ndarray]) -> Figure:
    """One row per face: the photo, the face pasted without a mask (the whole square), and with the soft mask.

    Each panel is cropped to the pasted region's bounding box (plus a margin) so the seams are visible.
    """
    fig, axes = pyplot().subplots(len(photos), 3, figsize=(9.0, 3.2 * len(photos)), dpi=100, squeeze=False)
    for i, images in enumerate(zip(photos, without_mask, with_mask, strict=True)):
        changed = np.argwhere(np.any(images[1] != images[0], axis=2))
        (y0, x0), (y1, x1) = (changed.min(0), changed.max(0)) if len(changed) else ((0, 0), images[0].shape[:2])
        m = max(8, (y1 - y0) // 8)
        box = (slice(max(0, y0 - m), y1 + m), slice(max(0, x0 - m), x1 + m))
        for ax, image, title in zip(axes[i], images, ("photo", "pasted, no mask", "pasted, with mask"), strict=True):
            ax.imshow(image[box][..., ::-1])
            ax.set_title(title, fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def projection_figure(
    *,
    targets: list[np.ndarray],
    projected: list[np.ndarray],
    losses: list[np.ndarray],
    lpips: list[float],
    discard_step: int,
    note: str = "",
    distance_name: str = "LPIPS",
) -> Figure:
    """One row per face: the aligned target, its StyleGAN2 projection, and the loss curve (log scale).

    Args:
        targets: (S, S, 3) uint8 BGR aligned faces.
        projected: (R, R, 3) uint8 BGR renders of the projected codes.
        losses: per-step total loss of each face.
        lpips: final perceptual distance of each face.
        discard_step: the early-discard step, marked on the curves.
        note: a line under the title (e.g. that the generator is random and the pictures mean nothing).
        distance_name: what the distance is (LPIPS, or the twin distance of the twin models).
    """
    fig, axes = pyplot().subplots(len(targets), 3, figsize=(9.0, 3.0 * len(targets)), dpi=100, squeeze=False)
    for i, (target, render, curve, score) in enumerate(zip(targets, projected, losses, lpips, strict=True)):
        axes[i, 0].imshow(target[..., ::-1])
        axes[i, 1].imshow(render[..., ::-1])
        axes[i, 2].semilogy(np.arange(1, len(curve) + 1), curve, linewidth=1.0)
        axes[i, 2].axvline(discard_step, color="red", linewidth=0.8, linestyle="--")
        titles = ("aligned target", f"projection ({distance_name} {score:.3f})", "loss per step (discard check dashed)")
        for ax, title in zip(axes[i], titles, strict=True):
            ax.set_title(title, fontsize=8)
        for ax in axes[i, :2]:
            ax.set_xticks([]), ax.set_yticks([])
    if note:
        fig.suptitle(textwrap.fill(note, 110), fontsize=8, color="darkred")
    fig.tight_layout()
    return fig


def relight_figure(
    *, originals: list[np.ndarray], variants: list[list[np.ndarray]], captions: list[list[str]], note: str = ""
) -> Figure:
    """A contact sheet like the study's Fig. 3.11: per face, the original crop and its relit variants.

    Args:
        originals: (H, W, 3) uint8 BGR face crops.
        variants: per face, the relit crops (same size as its original).
        captions: per face, one caption per variant (presets and amounts).
        note: a line under the title (the backend).
    """
    cols = 1 + max(len(v) for v in variants)
    fig, axes = pyplot().subplots(
        len(originals), cols, figsize=(2.6 * cols, 2.8 * len(originals)), dpi=100, squeeze=False
    )
    for i, (original, relit, texts) in enumerate(zip(originals, variants, captions, strict=True)):
        panels = [(original, "original"), *zip(relit, texts, strict=True)]
        for ax, (image, title) in zip(axes[i], panels, strict=False):
            ax.imshow(image[..., ::-1])
            ax.set_title(title, fontsize=6)
        for ax in axes[i]:
            ax.set_xticks([]), ax.set_yticks([])
    if note:
        fig.suptitle(textwrap.fill(note, 110), fontsize=8)
    fig.tight_layout()
    return fig
