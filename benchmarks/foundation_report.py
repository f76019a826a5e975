"""Figures for the foundation issue, measured on the default synthetic twin (600 train / 200 test images).

Prints: time to synthesise and to index (+ head pose) the dataset, against the 60 s budget of `make demo`;
the median absolute yaw/pitch/roll error of the solvePnP (POSIT) estimate on the test split, against the
renderer's true pose; the frontal and frontal-illumination counts; dlib's detection rate on the synthetic
frontal faces (HOG detector, upsample 1; a face counts as found when a detection's centre lies in its box).

Usage: .venv/bin/python benchmarks/foundation_report.py [--train 600 --test 200 --seed 0 --workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import dlib
import numpy as np
import pandas as pd

from landmark_core.subsets import compute_subsets, subset_table
from landmark_core.synth.dataset import SYNTH_DIR, SynthConfig, synthesize_wflw
from landmark_core.wflw_index import index_wflw


def _dlib_rate(root: Path, faces: pd.DataFrame) -> tuple[float, int, dict[str, float]]:
    detector = dlib.get_frontal_face_detector()
    found = []
    for image_path, group in faces.groupby("image_path"):
        rgb = cv2.cvtColor(cv2.imread(str(root / image_path)), cv2.COLOR_BGR2RGB)
        rects = detector(rgb, 1)
        centres = [((r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2) for r in rects]
        for row in group.itertuples():
            hit = any(row.bbox_x_min < x < row.bbox_x_max and row.bbox_y_min < y < row.bbox_y_max for x, y in centres)
            found.append((row.Index, hit))
    hits = pd.Series(dict(found)).reindex(faces.index)
    clean = faces[["pose", "expression", "illumination", "makeup", "occlusion", "blur"]].sum(axis=1) == 0
    by_condition = {"no condition": float(hits[clean].mean())}
    for name in ("expression", "illumination", "makeup", "occlusion", "blur"):
        mask = faces[name] == 1
        if mask.any():
            by_condition[name] = float(hits[mask].mean())
    return float(hits.mean()), len(hits), by_condition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="eltrepro-bench-"))
    t0 = time.perf_counter()
    config = SynthConfig(train=args.train, test=args.test, seed=args.seed)
    synthesize_wflw(out=root, config=config, workers=args.workers)
    t1 = time.perf_counter()
    index = index_wflw(root=root)
    subsets = compute_subsets(faces=index.faces)
    t2 = time.perf_counter()
    print(
        f"synthesise {t1 - t0:.1f} s + index/pose {t2 - t1:.1f} s = {t2 - t0:.1f} s "
        f"({(t2 - t0) / 60:.2f} x the 60 s budget; {args.workers} workers; {len(index.faces)} faces)"
    )

    truth = [pd.read_parquet(root / SYNTH_DIR / f"truth_{s}.parquet").assign(split=s) for s in ("train", "test")]
    faces = index.faces.merge(subsets[["face_id", "yaw", "pitch", "roll", "in_frontal", "in_frontal_illumination"]])
    faces = faces.merge(pd.concat(truth), on=["split", "line"], suffixes=("", "_true"))
    test = faces[faces["split"] == "test"]
    err = {a: np.median(np.abs(test[a] - test[f"{a}_true"])) for a in ("yaw", "pitch", "roll")}
    print(
        "POSIT (solvePnP) median |error| on the test split: "
        + ", ".join(f"{a} {v:.2f} deg" for a, v in err.items())
        + " (goal <= 3 deg)"
    )
    print(subset_table(subsets).to_string())
    frontal_true = faces[np.maximum.reduce([faces[f"{a}_true"].abs() for a in ("yaw", "pitch", "roll")]) < 12.5]
    rate, n, by_condition = _dlib_rate(root, frontal_true)
    print(
        f"dlib detection rate on {n} synthetic frontal faces (true pose): {rate:.1%}; by condition: "
        + ", ".join(f"{k} {v:.1%}" for k, v in by_condition.items())
    )


if __name__ == "__main__":
    main()
