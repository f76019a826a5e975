"""Time to accuracy: training seconds until a row's test-split NME first reaches a target (default 10 %).

Renders the demo profile's synthetic twin (360 train / 150 test faces) once, then trains each named recipe
on it side by side in this one run, epoch by epoch, evaluating the whole test split after every epoch (the
evaluation is not counted as training time). Prints, per recipe, the epoch and training seconds at which
the test NME first went below the target and the ratio against the first recipe (the baseline).

Recipes (TOML fragments of the profile's ``[train]`` section, the row ``rt_l0.25_r0.05`` on top):
  * ``before``: the demo recipe of the previous release (two 64x64 stages, the study's lr 1e-3 plateau
    schedule, batches of 6 pairs, top-1 decoding);
  * ``demo``: the demo profile's ``[train]`` section as it is now (elt_study/profiles/demo.toml: one 48x48 stage,
    6 epochs of a cosine lr from 8e-3, batches of 4 pairs, quarter-pixel decoding);
  * a path to a ``.toml`` file: a ``[train]`` section of your own.

Usage: .venv/bin/python benchmarks/time_to_nme.py [--recipes before,demo] [--target 10] [--epochs 12]
       [--row rt_l0.25_r0.05] [--data WFLW_ROOT]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from elt_study.experiments import load_matrix, row_config
from elt_study.run_profile import load_profile
from landmark_core.config import from_dict, read_table_file
from landmark_core.dataset import face_records
from landmark_core.evaluate import evaluate_faces
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.train import EpochRecord, load_checkpoint, split_validation, train
from landmark_core.train_config import TrainConfig
from landmark_core.wflw_index import index_wflw

ROOT = Path(__file__).resolve().parent.parent
BEFORE = {
    "seed": 0,
    "max_epochs": 1000,
    "model": {
        "size": 64,
        "stem_channels": 8,
        "encoder_channels": [16, 32, 64, 128],
        "decoder_channels": [64, 32, 16, 16],
        "expansion": 4,
    },
    "augment": {"size": 64},
}


def recipe(name: str, row: str) -> TrainConfig:
    """The TrainConfig of ``row`` under recipe ``name`` (see the module docstring; a ``.toml`` path is a
    ``[train]`` section of your own to try)."""
    profile = load_profile(ROOT / "elt_study" / "profiles" / "demo.toml")
    if name == "before":
        base = from_dict(TrainConfig, BEFORE, where="recipe before")
    elif name.endswith(".toml"):
        base = from_dict(TrainConfig, read_table_file(Path(name)), where=name)
    else:
        base = profile.train
    matrix = load_matrix(profile.matrix)
    return row_config(base=base, row=next(r for r in matrix if r.name == row))


def test_nme(run: Path, records, subsets) -> float:
    """Full test-split NME (percent) of the run's ``last.pt``."""
    model, config, _ = load_checkpoint(run / "last.pt")
    with torch.inference_mode():
        faces = evaluate_faces(
            model=model,
            records=records,
            subsets=subsets,
            augment=config.augment,
            device=torch.device("cpu"),
            decoding=config.decoding,
        )
    return 100.0 * float(np.mean(faces["nme"]))


def time_to_target(config: TrainConfig, data: Path, target: float, epochs: int, out: Path) -> list[tuple]:
    """(epoch, cumulative training seconds, test NME %) per epoch until the target or ``epochs``."""
    index = index_wflw(root=data).faces
    train_records = face_records(root=data, faces=index[index["split"] == "train"])
    test_faces = index[index["split"] == "test"]
    test_records = face_records(root=data, faces=test_faces)
    subsets = test_faces[["face_id"]].assign(in_full=True)
    fit, val = split_validation(records=train_records, fraction=config.val_fraction, seed=config.seed)
    trail, seconds = [], 0.0
    for epoch in range(min(epochs, config.max_epochs)):
        started = time.perf_counter()
        records: list[EpochRecord] = train(
            config=config,
            train_records=fit,
            val_records=val,
            out=out,
            device=torch.device("cpu"),
            resume=True,
            stop_after=1,
        )
        seconds += time.perf_counter() - started
        nme = test_nme(out, test_records, subsets)
        trail.append((epoch, seconds, nme, records[-1].lr))
        print(f"    epoch {epoch:2d}  {seconds:7.1f} s  test NME {nme:6.2f} %", flush=True)
        if nme <= target:
            break
    return trail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="before,demo")
    parser.add_argument("--row", default="rt_l0.25_r0.05")
    parser.add_argument("--target", type=float, default=10.0, help="test NME in percent")
    parser.add_argument("--epochs", type=int, default=12, help="give up after this many epochs")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "twin"
            synthesize_wflw(out=data, config=SynthConfig(train=360, test=150, seed=0), workers=2)
        print(f"torch threads {torch.get_num_threads()}, row {args.row}, target {args.target} % test NME")
        results = {}
        for i, name in enumerate(args.recipes.split(",")):
            print(f"  {name}:", flush=True)
            trail = time_to_target(recipe(name, args.row), data, args.target, args.epochs, Path(tmp) / f"run{i}")
            results[name] = trail
        first = None
        for name, trail in results.items():
            epoch, seconds, nme, _ = trail[-1]
            reached = nme <= args.target
            first = first or (seconds if reached else None)
            ratio = f"{first / seconds:.2f}x faster than {args.recipes.split(',')[0]}" if reached and first else ""
            verdict = f"reached in {seconds:.1f} s ({epoch + 1} epochs)" if reached else f"not reached ({nme:.2f} %)"
            print(f"{name:10s} time to {args.target:g} % NME: {verdict}  {ratio}")


if __name__ == "__main__":
    main()
