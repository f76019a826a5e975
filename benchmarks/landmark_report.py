"""Test-split NME of an untrained network against trained runs (the landmark-core issue's "done when" figures).

Evaluates on the test split of a WFLW root: the untrained network of the first run's config (same seed,
so the very initialisation that run started from), then ``best.pt`` of every run folder given. Prints Full
NME / NME90 / FR@10 / AUC@10 and the per-subset NME of each.

Usage: .venv/bin/python benchmarks/landmark_report.py --data WFLW_ROOT RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from landmark_core.dataset import face_records
from landmark_core.evaluate import evaluate_faces, metric_table
from landmark_core.subsets import SUBSETS, compute_subsets
from landmark_core.train import BEST, build_model, load_checkpoint
from landmark_core.wflw_index import index_wflw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    device = torch.device("cpu")
    faces = index_wflw(root=args.data).faces
    faces = faces[faces["split"] == "test"]
    records = face_records(root=args.data, faces=faces)
    subsets = compute_subsets(faces=faces)
    rows = {}
    _, first, _ = load_checkpoint(args.runs[0] / BEST)
    models = [("untrained", build_model(first.model, seed=first.seed, device=device), first)]
    for run in args.runs:
        model, config, ckpt = load_checkpoint(run / BEST)
        models.append((f"{run.name} (epoch {ckpt['epoch']}, lambda {config.loss.elt_lambda})", model, config))
    for name, model, config in models:
        per_face = evaluate_faces(
            model=model,
            records=records,
            subsets=subsets,
            augment=config.augment,
            device=device,
            decoding=config.decoding,
        )
        table = metric_table(per_face=per_face, subsets=SUBSETS)
        rows[name] = {
            "Full NME %": table.loc["full", "nme"],
            "NME90 %": table.loc["full", "nme90"],
            "FR@10 %": table.loc["full", "fr10"],
            "AUC@10": table.loc["full", "auc10"],
            **{f"{s} %": table.loc[s, "nme"] for s in SUBSETS[1:]},
        }
    pd.set_option("display.width", 200)
    print(f"test split of {args.data}: {len(records)} faces")
    print(pd.DataFrame.from_dict(rows, orient="index").round(3).T.to_string())


if __name__ == "__main__":
    main()
