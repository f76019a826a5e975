"""Evaluation: per-face errors of a trained model and the study's metric table per subset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from landmark_core.atomic import atomic_write, atomic_write_text
from landmark_core.dataset import FaceRecord
from landmark_core.markdown import markdown_table
from landmark_core.metrics import METRIC_COLUMNS, Normaliser, nme_per_face, subset_metrics
from landmark_core.predict import predict_landmarks
from landmark_core.sampler import AugmentConfig

PERCENT_COLUMNS: tuple[str, ...] = ("nme", "nme90", "nme95", "nme99", "fr10")


def evaluate_faces(
    *,
    model: torch.nn.Module,
    records: list[FaceRecord],
    subsets: pd.DataFrame,
    augment: AugmentConfig,
    device: torch.device,
    batch_size: int = 32,
    workers: int = 0,
    decoding: str = "top1",
    on_progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Predict every face and measure it.

    Args:
        model: the trained network.
        records: the faces to evaluate.
        subsets: ``face_id`` plus boolean ``in_<subset>`` columns (``landmark_core.subsets.compute_subsets``).
        augment: gives the crop (size, factor) used in training.
        device: where to run.
        decoding: how heatmaps become points (the run's ``TrainConfig.decoding``).
        on_progress: called with the fraction of faces predicted after each batch.

    Returns:
        One row per face: ``face_id``, ``nme`` (inter-ocular), ``nme_inter_pupil`` (fractions), ``pred``
        (196 floats, original pixels) and the subsets' ``in_*`` columns.
    """
    pred = predict_landmarks(
        model=model,
        records=records,
        augment=augment,
        device=device,
        batch_size=batch_size,
        workers=workers,
        decoding=decoding,
        on_progress=on_progress,
    )
    truth = np.stack([r.landmarks for r in records])
    out = pd.DataFrame(
        {
            "face_id": [r.face_id for r in records],
            "nme": nme_per_face(pred=pred, truth=truth, normaliser="inter_ocular"),
            "nme_inter_pupil": nme_per_face(pred=pred, truth=truth, normaliser="inter_pupil"),
            "pred": [p.reshape(-1).tolist() for p in pred],
        }
    )
    flags = subsets.set_index("face_id").filter(like="in_")
    missing = sorted(set(out["face_id"]) - set(flags.index))
    if missing:
        raise ValueError(f"{len(missing)} evaluated faces have no subset row, e.g. {missing[:3]}")
    return out.join(flags, on="face_id")


def metric_table(
    *, per_face: pd.DataFrame, subsets: tuple[str, ...], normaliser: Normaliser = "inter_ocular"
) -> pd.DataFrame:
    """The study's table: one row per subset; NME, NME90/95/99 and FR@10 in percent, AUC@10 as a fraction."""
    column = "nme" if normaliser == "inter_ocular" else "nme_inter_pupil"
    table = subset_metrics(per_face=per_face.assign(nme=per_face[column]), subsets=subsets)
    table[list(PERCENT_COLUMNS)] *= 100.0
    table["faces"] = table["faces"].astype(int)
    return table[list(METRIC_COLUMNS)]


def write_metric_files(*, table: pd.DataFrame, out: Path, title: str) -> None:
    """Write ``metrics.csv`` and ``metrics.md`` (each atomically) into ``out``."""
    atomic_write(out / "metrics.csv", lambda p: table.to_csv(p, index_label="subset", float_format="%.4f"))
    atomic_write_text(out / "metrics.md", to_markdown(table, title=title))


def to_markdown(table: pd.DataFrame, *, title: str) -> str:
    """A GitHub-flavoured Markdown rendering of ``metric_table``'s output (no extra dependency)."""
    header = ["subset", "faces", "NME %", "NME90 %", "NME95 %", "NME99 %", "FR@10 %", "AUC@10"]
    columns = table[["faces", *PERCENT_COLUMNS, "auc10"]].astype({"faces": int}).astype(object)
    return "\n".join([f"### {title}", "", *markdown_table(columns, header=header, na_rep="nan")]) + "\n"
