"""The GAN branch against the twin's ground truth, with the committed twin models.

Held-out twin faces (portraits from seed 1,000,000 up: never GAN training faces) are projected into the twin
GAN's W+ with the project's projector and the twin distance; the same is done with an untrained generator of
the same shape (the baseline: what the demo's pictures were so far). Then, against what the twin knows:

* identification: the share of projections whose nearest target (twin distance) is their own;
* projection_psnr_db: the median PSNR of a projection against its aligned target;
* landmark_drift / target_nme: the median NME (%, inter-ocular) of the twin landmark model's landmarks on the
  projections / on the targets themselves, against the true landmarks;
* review_precision / review_recall: of the automatic review (accept a projection whose final twin distance is at
  most the threshold), "faithful" meaning a drift at most twice the target NME. The threshold is calibrated on
  the first half of the faces (the largest one whose precision there is at least 0.9) and judged on the second;
* relight_gain_db (with ``--dpr``): each face relit toward one of the study's six presets by the twin flow, and
  rendered again by the twin's renderer under that light (the truth, same face and landmarks): the median of
  PSNR(relit, truth) - PSNR(original, truth) with a 95 % bootstrap interval, beside the physical SH relighting's;
* relight_landmark_drift: the drift on the relit faces (on the aligned faces: no paste-back here).

Prints a table, then one JSON object as its last line.

Usage: .venv/bin/python benchmarks/gan_branch.py [--faces 100] [--steps 300] [--dpr PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.stats import bootstrap

from gan_core.attributes import condition_vector, stats_attributes
from gan_core.dpr import estimate_sh, load_dpr
from gan_core.projector import project
from gan_core.projector_config import ProjectorConfig
from gan_core.relight_physical import estimate_source_sh, face_geometry, relight
from gan_core.sh import PRESETS
from gan_core.styleflow import relight_codes
from gan_core.stylegan2 import Generator, mean_w
from gan_core.twin_faces import aligned_twin_faces
from gan_core.twin_flow import render_codes
from gan_core.twin_gan import HELD_OUT_SEED
from gan_core.twin_measure import aligned_landmarks, head_poses
from gan_core.twin_models import load_committed_flow, load_committed_generator, load_committed_landmarks
from gan_core.twin_perceptual import TwinPerceptual
from landmark_core.metrics import nme_per_face
from landmark_core.synth.render import Lighting


def _tensor(images: np.ndarray) -> torch.Tensor:
    """``[N, R, R, 3]`` uint8 RGB -> ``[N, 3, R, R]`` in [-1, 1]."""
    return torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1.0


def _uint8(images: torch.Tensor) -> np.ndarray:
    """``[N, 3, R, R]`` in [-1, 1] -> ``[N, R, R, 3]`` uint8 RGB."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR (dB) of each pair of uint8 pictures. Shapes: ``[N, R, R, 3]`` x2 -> ``[N]``."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def projections(
    generator: Generator, distance: TwinPerceptual, targets: torch.Tensor, steps: int
) -> tuple[np.ndarray, torch.Tensor]:
    """The projector's renders and W+ codes of the targets.

    Shapes: ``[N, 3, R, R]`` -> (``[N, R, R, 3]`` uint8, ``[N, n_latent, D]``)."""
    w_avg, w_std = mean_w(generator=generator, n_samples=2000)
    config = ProjectorConfig(steps=steps, w_avg_samples=2000, compare_size=targets.shape[-1], discard_loss=None)
    done = project(generator=generator, perceptual=distance, targets=targets, w_avg=w_avg, w_std=w_std, config=config)
    return _uint8(torch.stack([p.image for p in done])), torch.stack([p.latent for p in done])


def projection_figures(
    *, pictures: np.ndarray, faces, distance: TwinPerceptual, landmark_model, landmark_config
) -> dict[str, np.ndarray]:
    """Per-face measures of projections against their targets (the twin's truth)."""
    cpu = torch.device("cpu")
    with torch.no_grad():
        feats_p, feats_t = distance.features(_tensor(pictures)), distance.features(_tensor(faces.images))
        n = len(pictures)
        matrix = torch.stack(
            [distance.distance([f[i : i + 1].expand(n, -1, -1, -1) for f in feats_p], feats_t) for i in range(n)]
        ).numpy()  # [projection, target]
    found = aligned_landmarks(model=landmark_model, config=landmark_config, images_rgb=pictures, device=cpu)
    return {
        "identified": matrix.argmin(axis=1) == np.arange(n),
        "distance": np.diag(matrix),
        "psnr": psnr(pictures, faces.images),
        "drift": nme_per_face(pred=found, truth=faces.landmarks),
    }


def light_of(sh: np.ndarray) -> Lighting:
    """The twin renderer's directional light pointing where an SH lighting's first band points.

    DPR's first-band coefficients are (Y, Z, X) in DPR's axes (X right, Y away from the viewer, Z up); the
    renderer's are x right, y up, z toward the viewer."""
    x, y, z = sh[3], sh[2], -sh[1]
    norm = float(np.sqrt(x * x + y * y + z * z)) or 1.0
    return Lighting(direction=(x / norm, y / norm, z / norm))


def relight_figures(*, faces, pictures, latents, generator, flow, dpr, landmark_model, landmark_config) -> dict:
    """Each face relit toward one of the six presets (in turn) by the flow and by the physical backend, against
    the face rendered again under that light."""
    cpu = torch.device("cpu")
    names = list(PRESETS)
    truths = np.stack(
        [
            aligned_twin_faces(seeds=[seed], resolution=64, lighting=light_of(PRESETS[names[i % 6]])).images[0]
            for i, seed in enumerate(faces.seeds)
        ]
    )
    bgr = lambda images: [cv2.cvtColor(image, cv2.COLOR_RGB2BGR) for image in images]  # noqa: E731
    target_sh = estimate_sh(model=dpr, images_bgr=bgr(truths))  # [N, 9]: what DPR sees in the truth
    source_sh = estimate_sh(model=dpr, images_bgr=bgr(pictures))
    found = aligned_landmarks(model=landmark_model, config=landmark_config, images_rgb=pictures, device=cpu)
    poses, _ = head_poses(landmarks=found)
    source = np.stack(
        [
            condition_vector(
                sh=sh, attributes=stats_attributes(yaw=float(np.nan_to_num(p[0])), pitch=float(np.nan_to_num(p[1])))
            )
            for sh, p in zip(source_sh, poses, strict=True)
        ]
    )
    codes = latents  # [N, n_latent, D]
    relit_codes = relight_codes(
        flow=flow,
        w=codes,
        source=torch.as_tensor(source, dtype=torch.float32),
        target_sh=torch.as_tensor(target_sh, dtype=torch.float32),
        rows=(0, codes.shape[1]),
    )
    with torch.no_grad():
        relit = render_codes(generator=generator, codes=relit_codes)
    physical = []
    for image, truth, points in zip(faces.images, truths, faces.landmarks, strict=True):
        geometry = face_geometry(landmarks=points, image_shape=image.shape)
        src = estimate_source_sh(image_bgr=cv2.cvtColor(image, cv2.COLOR_RGB2BGR), geometry=geometry)
        tgt = estimate_source_sh(image_bgr=cv2.cvtColor(truth, cv2.COLOR_RGB2BGR), geometry=geometry)
        out = relight(image_bgr=cv2.cvtColor(image, cv2.COLOR_RGB2BGR), geometry=geometry, source_sh=src, target_sh=tgt)
        physical.append(cv2.cvtColor(out, cv2.COLOR_BGR2RGB))
    base = psnr(faces.images, truths)
    relit_found = aligned_landmarks(model=landmark_model, config=landmark_config, images_rgb=relit, device=cpu)
    return {
        "flow_gain": psnr(relit, truths) - base,
        "flow_vs_projection_gain": psnr(relit, truths) - psnr(pictures, truths),
        "physical_gain": psnr(np.stack(physical), truths) - base,
        "relit_drift": nme_per_face(pred=relit_found, truth=faces.landmarks),
    }


def median_interval(values: np.ndarray) -> tuple[float, float, float]:
    """The median and its 95 % percentile bootstrap interval (10,000 resamples, seeded)."""
    found = bootstrap((values,), np.median, n_resamples=10_000, method="percentile", random_state=0)
    return float(np.median(values)), float(found.confidence_interval.low), float(found.confidence_interval.high)


def review(distances: np.ndarray, faithful: np.ndarray) -> tuple[float, float, float]:
    """The threshold calibrated on the first half (the largest whose precision there is >= 0.9; the smallest
    distance when none is), and the precision and recall of ``distance <= threshold`` on the second half."""
    half = len(distances) // 2
    fit_d, fit_f = distances[:half], faithful[:half]
    threshold = float(fit_d.min())
    for candidate in np.sort(fit_d):
        accepted = fit_d <= candidate
        if fit_f[accepted].mean() >= 0.9:
            threshold = float(candidate)
    test_d, test_f = distances[half:], faithful[half:]
    accepted = test_d <= threshold
    precision = float(test_f[accepted].mean()) if accepted.any() else float("nan")
    recall = float(accepted[test_f].mean()) if test_f.any() else float("nan")
    return threshold, precision, recall


def _relight_results(args, faces, renders, trained, ours, landmark_model, landmark_config) -> dict[str, object]:
    """Relight the twin GAN's projections and print and return the relighting figures."""
    pictures, latents = renders["twin GAN"]
    lit = relight_figures(
        faces=faces,
        pictures=pictures,
        latents=latents,
        generator=trained,
        flow=load_committed_flow(),
        dpr=load_dpr(Path(args.dpr)),
        landmark_model=landmark_model,
        landmark_config=landmark_config,
    )
    flow_gain, physical_gain = median_interval(lit["flow_gain"]), median_interval(lit["physical_gain"])
    own = float(np.median(lit["flow_vs_projection_gain"]))
    print("relight gain, dB, median [95 % interval]:")
    low, high = flow_gain[1], flow_gain[2]
    print(f"  StyleFlow (twin flow) {flow_gain[0]:+.2f} [{low:+.2f}, {high:+.2f}]; {own:+.2f} against its projection")
    print(f"  physical              {physical_gain[0]:+.2f} [{physical_gain[1]:+.2f}, {physical_gain[2]:+.2f}]")
    drift, unrelit = 100 * np.median(lit["relit_drift"]), 100 * np.median(ours["drift"])
    print(f"landmark drift on the relit faces {drift:.2f} % (unrelit projections {unrelit:.2f} %)")
    return {
        "relight_gain_db": [round(v, 3) for v in flow_gain],
        "relight_physical_gain_db": [round(v, 3) for v in physical_gain],
        "relight_gain_vs_projection_db": round(own, 3),
        "relight_landmark_drift": round(float(drift), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--dpr", default=None, help="DPR's published weights: the relighting measures")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.monotonic()
    faces = aligned_twin_faces(seeds=range(HELD_OUT_SEED, HELD_OUT_SEED + args.faces), resolution=64)
    landmark_model, landmark_config = load_committed_landmarks()
    distance = TwinPerceptual(landmark_model)
    cpu = torch.device("cpu")
    truth_found = aligned_landmarks(model=landmark_model, config=landmark_config, images_rgb=faces.images, device=cpu)
    target_nme = nme_per_face(pred=truth_found, truth=faces.landmarks)
    trained = load_committed_generator()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        untrained = Generator(trained.config).eval().requires_grad_(False)
    rows, renders = {}, {}
    for name, generator in (("twin GAN", trained), ("untrained", untrained)):
        renders[name] = projections(generator, distance, _tensor(faces.images), args.steps)
        rows[name] = projection_figures(
            pictures=renders[name][0],
            faces=faces,
            distance=distance,
            landmark_model=landmark_model,
            landmark_config=landmark_config,
        )
    ours = rows["twin GAN"]
    faithful = ours["drift"] <= 2 * target_nme
    threshold, precision, recall = review(ours["distance"], faithful)
    print(f"{args.faces} held-out twin faces at 64 px, {args.steps} projector steps, twin distance")
    print(f"{'generator':<10} {'identification':>15} {'PSNR dB':>8} {'drift %':>8} {'distance':>9}")
    for name, row in rows.items():
        print(
            f"{name:<10} {row['identified'].mean():>15.3f} {np.median(row['psnr']):>8.2f} "
            f"{100 * np.median(row['drift']):>8.2f} {np.median(row['distance']):>9.3f}"
        )
    print(f"target NME {100 * np.median(target_nme):.2f} %; faithful (drift <= 2x target NME): {faithful.mean():.2f}")
    print(
        f"review threshold {threshold:.3f} (fitted on the first half): precision {precision:.3f}, recall {recall:.3f}"
    )
    results: dict[str, object] = {
        "identification": round(float(ours["identified"].mean()), 4),
        "projection_psnr_db": round(float(np.median(ours["psnr"])), 3),
        "landmark_drift": round(100 * float(np.median(ours["drift"])), 3),
        "target_nme": round(100 * float(np.median(target_nme)), 3),
        "review_threshold": round(threshold, 4),
        "review_precision": round(precision, 4),
        "review_recall": round(recall, 4),
        "untrained_identification": round(float(rows["untrained"]["identified"].mean()), 4),
        "untrained_psnr_db": round(float(np.median(rows["untrained"]["psnr"])), 3),
        "untrained_landmark_drift": round(100 * float(np.median(rows["untrained"]["drift"])), 3),
    }
    if args.dpr:
        results |= _relight_results(args, faces, renders, trained, ours, landmark_model, landmark_config)
    results["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
