"""The report's figures: the cumulative error distribution of every row, and predictions on the hardest faces.

Pure functions that return matplotlib figures (the Agg backend, no display); the report stage saves them with
``save_figure``. Landmarks are pixel xy in WFLW order, as everywhere in the project.

matplotlib is imported when the first figure is drawn (``pyplot``), not with this module: every process that
imports the Prefect graph imports the report stage, and most of them (a worker's row, a deployment, a cached
run) draw nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landmark_core.geometry import apply_points, square_crop, warp_affine
from landmark_core.metrics import auc, ced_curve

if TYPE_CHECKING:
    from types import ModuleType

    from matplotlib.figure import Figure

DASHES = ("-", "--", ":", "-.")


@cache
def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display), imported on the first call."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(*, fig: Figure, path: Path) -> None:
    """Write ``fig`` to ``path`` (the format from its suffix) and close it, so a long report holds no figure."""
    fig.savefig(path)
    pyplot().close(fig)


def row_style(index: int) -> dict[str, object]:
    """A line style for the ``index``-th row: tab10's ten colours, then the next dash pattern (40 distinct styles)."""
    colours = pyplot().get_cmap("tab10").colors
    return {"color": colours[index % len(colours)], "linestyle": DASHES[(index // len(colours)) % len(DASHES)]}


def ced_figure(*, errors: dict[str, np.ndarray], threshold: float = 0.10, title: str = "") -> Figure:
    """Cumulative error distribution: the fraction of faces whose NME is at most x, one curve per row.

    Args:
        errors: row name -> per-face NME (fractions), shape (N,).
        threshold: the x range (0 to threshold), 0.10 in the study.
        title: figure title.

    Returns:
        The figure; the legend gives each row's AUC@threshold.
    """
    return ced_grid(errors={title: errors}, threshold=threshold, columns=1)


def ced_grid(*, errors: dict[str, dict[str, np.ndarray]], threshold: float = 0.10, columns: int = 3) -> Figure:
    """One CED panel per subset, every row in the same style on every panel, one shared legend below.

    Args:
        errors: subset (the panel's title) -> row name -> per-face NME (fractions), shape (N,); an empty
            array leaves that row's curve out of that panel.
        threshold: the x range (0 to threshold), 0.10 in the study.
        columns: panels per line.

    Returns:
        The figure; each panel's legend gives its rows' AUC@threshold, the shared legend the row styles.
    """
    plt = pyplot()
    rows = list(dict.fromkeys(row for panel in errors.values() for row in panel))
    lines = -(-len(errors) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 3.4 * lines + 0.3 * len(rows)), squeeze=False)
    for ax, (subset, panel) in zip(axes.flat, errors.items(), strict=False):
        for row, e in panel.items():
            e = np.asarray(e, dtype=float)
            if e.size:
                x, y = ced_curve(e, threshold=threshold)
                score = f"{auc(e, threshold):.3f}"
                label = f"{row} (AUC {score})" if len(errors) == 1 else score  # many panels: one shared legend
                ax.plot(100.0 * x, y, label=label, **row_style(rows.index(row)))
        ax.set(xlim=(0, 100 * threshold), ylim=(0, 1), xlabel="NME (%)", ylabel="fraction of faces", title=subset)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right", title=None if len(errors) == 1 else "AUC", title_fontsize=6)
    for ax in list(axes.flat)[len(errors) :]:
        ax.axis("off")
    if len(errors) == 1:
        fig.tight_layout()
        return fig
    handles = [plt.Line2D([], [], **row_style(i)) for i in range(len(rows))]
    fig.legend(handles, rows, loc="lower center", ncol=min(3, len(rows)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.1 * min(1.0, len(rows) / 6 + 0.2), 1, 1))
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
    """Fig. 4.1: one column per face, one row per model; ground truth in green, prediction in red (legend
    below). Every panel shows the same fixed crop, so a prediction far off the face leaves the panel.

    Args:
        images: the faces' (H, W, 3) uint8 BGR images (as ``landmark_core.dataset.read_image`` reads them).
        truth: (F, 98, 2) ground-truth landmarks.
        predictions: model name -> (F, 98, 2) predicted landmarks.
        errors: model name -> (F,) NME of each face (fractions), printed over each panel.

    Returns:
        The grid figure.
    """
    plt = pyplot()
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
            ax.set(xlim=(0, size), ylim=(size, 0), xticks=[], yticks=[])  # fixed: stray points stay off-panel
            if j == 0:
                ax.set_ylabel(model, fontsize=7)
    marks = [plt.Line2D([], [], marker="o", linestyle="", color=c, markersize=4) for c in ("lime", "red")]
    fig.legend(marks, ["truth", "prediction"], loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
