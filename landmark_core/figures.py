"""The report's figures: the cumulative error distribution of every row, and predictions on the hardest faces.

Pure functions that return matplotlib figures (the Agg backend, no display); the report stage saves them.
Landmarks are pixel xy in WFLW order, as everywhere in the project.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from landmark_core.geometry import apply_points, square_crop, warp_affine  # noqa: E402
from landmark_core.metrics import auc, ced_curve  # noqa: E402


def ced_figure(*, errors: dict[str, np.ndarray], threshold: float = 0.10, title: str = "") -> Figure:
    """Cumulative error distribution: the fraction of faces whose NME is at most x, one curve per row.

    Args:
        errors: row name -> per-face NME (fractions), shape (N,).
        threshold: the x range (0 to threshold), 0.10 in the study.
        title: figure title.

    Returns:
        The figure; the legend gives each row's AUC@threshold.
    """
    fig, ax = plt.subplots(figsize=(6.0, 4.5), dpi=100)
    for row, e in errors.items():
        x, y = ced_curve(np.asarray(e, dtype=float), threshold=threshold)
        ax.plot(100.0 * x, y, label=f"{row} (AUC {auc(np.asarray(e, dtype=float), threshold):.3f})")
    ax.set(xlim=(0, 100 * threshold), ylim=(0, 1), xlabel="NME (%)", ylabel="fraction of faces", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def face_crop(*, image: np.ndarray, points: np.ndarray, size: int = 160) -> np.ndarray:
    """The square crop (side 1.3 x the landmarks' extent) mapping image pixels to a ``size`` panel.

    Args:
        image: (H, W, 3) uint8.
        points: (98, 2) pixel xy landmarks that define the crop.

    Returns:
        The 3x3 matrix from image pixels to panel pixels.
    """
    low, high = points.min(axis=0), points.max(axis=0)
    side = 1.3 * float(max(high - low).max()) + 1.0
    return square_crop(center=tuple((low + high) / 2.0), side=side, size=size)


def prediction_grid(
    *,
    images: list[np.ndarray],
    truth: np.ndarray,
    predictions: dict[str, np.ndarray],
    errors: dict[str, np.ndarray],
    size: int = 160,
) -> Figure:
    """Fig. 4.1: one column per face, one row per model; ground truth in green, prediction in red.

    Args:
        images: the faces' (H, W, 3) uint8 BGR images (as ``landmark_core.dataset.read_image`` reads them).
        truth: (F, 98, 2) ground-truth landmarks.
        predictions: model name -> (F, 98, 2) predicted landmarks.
        errors: model name -> (F,) NME of each face (fractions), printed over each panel.

    Returns:
        The grid figure.
    """
    rows, cols = len(predictions), len(images)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.0 * rows), dpi=100, squeeze=False)
    for j, image in enumerate(images):
        matrix = face_crop(image=image, points=truth[j], size=size)
        panel = warp_affine(image=image, matrix=matrix, size=size)
        gt = apply_points(matrix=matrix, points=truth[j])
        for i, (model, pred) in enumerate(predictions.items()):
            ax = axes[i, j]
            ax.imshow(panel[..., ::-1])
            ax.scatter(gt[:, 0], gt[:, 1], s=3, c="lime", linewidths=0)
            p = apply_points(matrix=matrix, points=pred[j])
            ax.scatter(p[:, 0], p[:, 1], s=3, c="red", linewidths=0)
            ax.set_title(f"{100 * errors[model][j]:.1f}%", fontsize=7)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(model, fontsize=7)
    fig.tight_layout()
    return fig
