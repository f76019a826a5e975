"""Projection's cost, counted in generator evaluations: the study's recipe against an encoder start with per-face
stopping, on held-out twin faces with the committed twin models.

Three recipes project the same faces (portraits from seed 1,000,000 up, never seen in training):

* study: the mean-W start and 1,000 steps (the study's projector);
* encoder + stopping: the twin W+ encoder's code as the start, then at most ``--steps`` steps without latent noise
  (``--noise-factor``), each face stopped once its loss improves by less than ``--stop-tolerance`` over
  ``--stop-window`` steps, after ``--stop-rampdown`` steps of falling learning rate;
* encoder alone: the encoder's code rendered once, no optimisation.

For each it prints the generator evaluations per face (forward renders plus backward passes, counted by the
projector; the same on any hardware), the wall time per face here, and the measures of
``benchmarks/gan_branch.py``: identification (twin distance), median PSNR against the target and median landmark
drift (the twin landmark model's NME on the projection against the true landmarks), the drift with its 95 %
bootstrap interval. The last line is one JSON object: ``evaluations_ratio`` (study / encoder + stopping) and the
new recipe's ``landmark_drift`` and ``identification``, with the study's drift and interval beside them.

The recipe's settings were chosen on the first 100 held-out faces; ``--offset 100`` judges it on the next 100.

Usage: .venv/bin/python benchmarks/projection_cost.py [--faces 100] [--offset 0] [--study-steps 1000]
       [--steps 220] [--stop-window 20] [--stop-tolerance 0.01] [--stop-rampdown 30] [--noise-factor 0]
       [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the GAN-branch benchmark's measures

import gan_branch  # noqa: E402

from gan_core.projector import project  # noqa: E402
from gan_core.projector_config import ProjectorConfig  # noqa: E402
from gan_core.stylegan2 import mean_w  # noqa: E402
from gan_core.twin_faces import aligned_twin_faces  # noqa: E402
from gan_core.twin_gan import HELD_OUT_SEED  # noqa: E402
from gan_core.twin_models import load_committed_encoder, load_committed_generator, load_committed_landmarks  # noqa: E402
from gan_core.twin_perceptual import TwinPerceptual  # noqa: E402


def run_recipe(*, generator, distance, targets, config: ProjectorConfig | None, encoder) -> dict[str, object]:
    """Project ``targets`` with one recipe (``config`` None: the encoder's code rendered once).

    Returns: the renders ``[N, R, R, 3]`` uint8, per-face evaluations and steps ``[N]``, and seconds per face."""
    began = time.perf_counter()
    start = None
    if encoder is not None:
        with torch.no_grad():
            start = encoder(targets)[0]
    if config is None:
        with torch.no_grad():
            images = generator.synthesis(start)
        evaluations, steps = np.ones(len(targets)), np.zeros(len(targets))  # one render each
    else:
        w_avg, w_std = mean_w(generator=generator, n_samples=config.w_avg_samples)
        done = project(
            generator=generator,
            perceptual=distance,
            targets=targets,
            w_avg=w_avg,
            w_std=w_std,
            config=config,
            start=start,
        )
        images = torch.stack([p.image for p in done])
        evaluations = np.array([p.forwards + p.backwards for p in done], dtype=float)
        steps = np.array([p.steps_run for p in done], dtype=float)
    seconds = (time.perf_counter() - began) / len(targets)
    return {"pictures": gan_branch._uint8(images), "evaluations": evaluations, "steps": steps, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--offset", type=int, default=0, help="skip this many held-out faces")
    parser.add_argument("--study-steps", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=220, help="the encoder recipe's most steps per face")
    parser.add_argument("--stop-window", type=int, default=20)
    parser.add_argument("--stop-tolerance", type=float, default=0.01)
    parser.add_argument("--stop-rampdown", type=int, default=30)
    parser.add_argument("--noise-factor", type=float, default=0.0, help="the encoder recipe's latent noise")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    first = HELD_OUT_SEED + args.offset
    faces = aligned_twin_faces(seeds=range(first, first + args.faces), resolution=64)
    landmarks, landmark_config = load_committed_landmarks()
    distance, generator = TwinPerceptual(landmarks), load_committed_generator()
    encoder = load_committed_encoder(generator=generator)
    targets = gan_branch._tensor(faces.images)
    base = ProjectorConfig(steps=args.study_steps, w_avg_samples=2000, compare_size=64, discard_loss=None)
    new = ProjectorConfig(
        steps=args.steps,
        w_avg_samples=2000,
        compare_size=64,
        discard_loss=None,
        init="encoder",
        stop_window=args.stop_window,
        stop_tolerance=args.stop_tolerance,
        stop_rampdown=args.stop_rampdown,
        noise_factor=args.noise_factor,
    )
    recipes = {"study": (base, None), "encoder + stopping": (new, encoder), "encoder alone": (None, encoder)}
    rows = {}
    for name, (config, enc) in recipes.items():
        rows[name] = run_recipe(generator=generator, distance=distance, targets=targets, config=config, encoder=enc)
        rows[name] |= gan_branch.projection_figures(
            pictures=rows[name]["pictures"],
            faces=faces,
            distance=distance,
            landmark_model=landmarks,
            landmark_config=landmark_config,
        )
    print(
        f"{args.faces} held-out twin faces (seeds {first}-{first + args.faces - 1}) at 64 px, twin models, "
        f"{torch.get_num_threads()} threads"
    )
    header = f"{'recipe':<20} {'evals/face':>10} {'s/face':>7} {'ident.':>7} {'PSNR dB':>8} {'drift % [95 %]':>22}"
    print(header)
    drift = {}
    for name, row in rows.items():
        drift[name] = [100 * v for v in gan_branch.median_interval(row["drift"])]
        mid, low, high = drift[name]
        print(
            f"{name:<20} {row['evaluations'].mean():>10.1f} {row['seconds']:>7.3f} {row['identified'].mean():>7.3f} "
            f"{np.median(row['psnr']):>8.2f} {mid:>8.2f} [{low:.2f}, {high:.2f}]"
        )
    ours, study = rows["encoder + stopping"], rows["study"]
    result = {
        "evaluations_ratio": round(float(study["evaluations"].mean() / ours["evaluations"].mean()), 3),
        "landmark_drift": round(drift["encoder + stopping"][0], 3),
        "landmark_drift_interval": [round(v, 3) for v in drift["encoder + stopping"][1:]],
        "identification": round(float(ours["identified"].mean()), 4),
        "projection_psnr_db": round(float(np.median(ours["psnr"])), 3),
        "evaluations_per_face": round(float(ours["evaluations"].mean()), 1),
        "study_evaluations_per_face": round(float(study["evaluations"].mean()), 1),
        "study_landmark_drift": [round(v, 3) for v in drift["study"]],
        "study_identification": round(float(study["identified"].mean()), 4),
        "study_projection_psnr_db": round(float(np.median(study["psnr"])), 3),
        "encoder_alone_landmark_drift": round(drift["encoder alone"][0], 3),
        "encoder_alone_identification": round(float(rows["encoder alone"]["identified"].mean()), 4),
        "seconds_per_face": {name: round(row["seconds"], 3) for name, row in rows.items()},
        "median_steps": float(np.median(ours["steps"])),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
