"""The GAN branch against the twin's ground truth, with the committed twin models.

Held-out twin faces (portraits from seed 1,000,000 up: never GAN training faces) are projected into the twin
GAN's W+ with the project's projector and the twin distance; the same is done with an untrained generator of
the same shape (the baseline: what the demo's pictures were so far). Then, against what the twin knows:

* identification: the share of projections whose nearest target (twin distance) is their own;
* projection_psnr_db: the median PSNR of a projection against its aligned target;
* landmark_drift / target_nme: the median NME (%, inter-ocular) of the twin landmark model's landmarks on the
  projections / on the targets themselves, against the true landmarks;
* review_precision / review_recall: of the automatic review (accept a projection whose final twin distance is at
  most the threshold), "faithful" meaning a drift at most twice the face's target NME. The review sees three
  kinds of projection of every face: the twin GAN's (finished), the twin GAN's after 30 steps (half-finished)
  and the untrained generator's. The threshold is calibrated on the even faces (the one that best separates
  faithful from unfaithful, Youden's J, among those whose precision there is at least 0.9) and judged on the
  odd ones;
* relight_gain_db: each face relit toward one of the study's six presets by the twin flow (W+ rows 0-5, as the
  demo), pasted into the photo through the hull of its landmarks the way the demo pastes (the relit render's
  change from the projection), and rendered again by the twin's renderer under that light (the truth, same
  face and landmarks): the median of PSNR(relit, truth) - PSNR(original, truth) with a 95 % bootstrap interval;
  beside it the study's paste (the relit render itself), the render alone, and the physical SH relighting;
* relight_landmark_drift: the drift on the relit-and-pasted faces, beside the drift on the unrelit paste of the
  projection (the study's paste).

Prints a table, then one JSON object as its last line.

Usage: .venv/bin/python benchmarks/gan_branch.py [--faces 100] [--steps 300] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
import torch
from scipy.stats import bootstrap

from gan_core.attributes import condition_vector, stats_attributes
from gan_core.paste import alpha_matte
from gan_core.projector import project
from gan_core.projector_config import ProjectorConfig
from gan_core.relight_physical import estimate_source_sh, face_geometry, relight
from gan_core.sh import PRESETS
from gan_core.styleflow import relight_codes
from gan_core.stylegan2 import Generator, mean_w
from gan_core.twin_faces import aligned_twin_faces
from gan_core.twin_flow import measure_lighting, render_codes
from gan_core.twin_gan import HELD_OUT_SEED
from gan_core.twin_measure import aligned_landmarks, head_poses
from gan_core.twin_models import load_committed_flow, load_committed_generator, load_committed_landmarks
from gan_core.twin_perceptual import TwinPerceptual
from landmark_core.metrics import nme_per_face
from landmark_core.synth.render import Lighting
from tasks.paste import relit_face

W_ROWS = (0, 6)  # the demo's w_rows: the twin generator's rows of 4 to 16 px
MODES = ("change", "face")
EARLY = 30  # projector steps of the review's half-finished projections


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


def face_mattes(landmarks: np.ndarray, side: int) -> np.ndarray:
    """Each face's paste matte: the hull of its landmarks, blurred as the paste stage does (sigma 1 % of the side).

    Shapes: ``[N, 98, 2]`` pixel xy -> ``[N, side, side, 1]`` float in [0, 1]."""
    mattes = []
    for points in landmarks:
        mask = np.zeros((side, side), np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
        mattes.append(alpha_matte(mask=mask, sigma=max(0.01 * side, 1.0)))
    return np.stack(mattes)[..., None]


def pasted(*, photos: np.ndarray, relit: np.ndarray, base: np.ndarray, mattes: np.ndarray, mode: str) -> np.ndarray:
    """The relit faces pasted into the aligned photos through the mattes, as the paste stage's ``face`` or
    ``change`` mode (``tasks.paste.relit_face``). Shapes: ``[N, R, R, 3]`` uint8 (x3), ``[N, R, R, 1]``."""
    faces = np.stack(
        [relit_face(aligned=p, relit=r, base=b, mode=mode) for p, r, b in zip(photos, relit, base, strict=True)]
    )
    out = mattes * faces.astype(np.float64) + (1 - mattes) * photos.astype(np.float64)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def fitted_lighting(images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The SH lighting the demo's estimator (the fit against the mean 3D face) sees: ``[N, 9]``."""
    lighting, reasons = measure_lighting(images_rgb=images, landmarks=landmarks, dpr=None)
    if any(reasons):
        raise SystemExit(f"no lighting for {sum(map(bool, reasons))} held-out faces: {next(r for r in reasons if r)}")
    return lighting


def relight_figures(*, faces, pictures, latents, generator, flow, landmark_model, landmark_config) -> dict:
    """Each face relit toward one of the six presets (in turn) by the flow and by the physical backend, against
    the face rendered again under that light.

    The flow's target is the lighting the fit sees in the truth (the flow lives in the fit's units, which on
    twin faces are not the presets' own), the source the lighting it sees in the projection; both at the
    landmarks the twin landmark model finds on the photo. The relit render is pasted into the photo through
    the hull of those landmarks, both ways the paste stage can."""
    cpu = torch.device("cpu")
    names = list(PRESETS)
    truths = np.stack(
        [
            aligned_twin_faces(seeds=[seed], resolution=64, lighting=light_of(PRESETS[names[i % 6]])).images[0]
            for i, seed in enumerate(faces.seeds)
        ]
    )
    on_photo = aligned_landmarks(model=landmark_model, config=landmark_config, images_rgb=faces.images, device=cpu)
    poses, _ = head_poses(landmarks=on_photo)
    source = np.stack(
        [
            condition_vector(
                sh=sh, attributes=stats_attributes(yaw=float(np.nan_to_num(p[0])), pitch=float(np.nan_to_num(p[1])))
            )
            for sh, p in zip(fitted_lighting(pictures, on_photo), poses, strict=True)
        ]
    )
    relit_codes = relight_codes(
        flow=flow,
        w=latents,
        source=torch.as_tensor(source, dtype=torch.float32),
        target_sh=torch.as_tensor(fitted_lighting(truths, on_photo), dtype=torch.float32),
        rows=W_ROWS,
    )
    with torch.no_grad():
        relit = render_codes(generator=generator, codes=relit_codes)
    mattes = face_mattes(on_photo, faces.images.shape[1])
    paste = {m: pasted(photos=faces.images, relit=relit, base=pictures, mattes=mattes, mode=m) for m in MODES}
    unrelit = pasted(photos=faces.images, relit=pictures, base=pictures, mattes=mattes, mode="face")
    physical = []
    for image, truth, points in zip(faces.images, truths, on_photo, strict=True):
        geometry = face_geometry(landmarks=points, image_shape=image.shape)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        src = estimate_source_sh(image_bgr=bgr, geometry=geometry)
        tgt = estimate_source_sh(image_bgr=cv2.cvtColor(truth, cv2.COLOR_RGB2BGR), geometry=geometry)
        physical.append(
            cv2.cvtColor(relight(image_bgr=bgr, geometry=geometry, source_sh=src, target_sh=tgt), cv2.COLOR_BGR2RGB)
        )
    base = psnr(faces.images, truths)
    drift = lambda images: nme_per_face(  # noqa: E731
        pred=aligned_landmarks(model=landmark_model, config=landmark_config, images_rgb=images, device=cpu),
        truth=faces.landmarks,
    )
    return {
        **{f"gain_{m}": psnr(paste[m], truths) - base for m in MODES},
        "gain_render": psnr(relit, truths) - base,
        "physical_gain": psnr(np.stack(physical), truths) - base,
        **{f"drift_{m}": drift(paste[m]) for m in MODES},
        "drift_unrelit_face": drift(unrelit),
    }


def median_interval(values: np.ndarray) -> tuple[float, float, float]:
    """The median and its 95 % percentile bootstrap interval (10,000 resamples, seeded)."""
    found = bootstrap((values,), np.median, n_resamples=10_000, method="percentile", random_state=0)
    return float(np.median(values)), float(found.confidence_interval.low), float(found.confidence_interval.high)


def review(distances: np.ndarray, faithful: np.ndarray, fit: np.ndarray) -> tuple[float, float, float]:
    """The threshold calibrated on the ``fit`` projections, and the precision and recall of
    ``distance <= threshold`` on the others.

    The threshold is the fitted distance that best separates faithful from unfaithful projections (the
    largest recall minus false-acceptance rate, Youden's J) among those whose precision is at least 0.9; the
    smallest distance when none is that precise. With the most precise threshold alone, a set where 90 % of the
    projections are faithful would accept everything."""
    fit_d, fit_f = distances[fit], faithful[fit]
    threshold, best = float(fit_d.min()), -np.inf
    for candidate in np.sort(fit_d):
        accepted = fit_d <= candidate
        if fit_f[accepted].mean() < 0.9:
            continue
        recall = accepted[fit_f].mean() if fit_f.any() else 0.0
        false_rate = accepted[~fit_f].mean() if (~fit_f).any() else 0.0
        if recall - false_rate > best:
            threshold, best = float(candidate), recall - false_rate
    test_d, test_f = distances[~fit], faithful[~fit]
    accepted = test_d <= threshold
    precision = float(test_f[accepted].mean()) if accepted.any() else float("nan")
    recall = float(accepted[test_f].mean()) if test_f.any() else float("nan")
    return threshold, precision, recall


def _relight_results(faces, renders, trained, ours, landmark_model, landmark_config) -> dict[str, object]:
    """Relight the twin GAN's projections and print and return the relighting figures."""
    pictures, latents = renders["twin GAN"]
    lit = relight_figures(
        faces=faces,
        pictures=pictures,
        latents=latents,
        generator=trained,
        flow=load_committed_flow(),
        landmark_model=landmark_model,
        landmark_config=landmark_config,
    )
    gains = {k: median_interval(lit[k]) for k in ("gain_change", "gain_face", "gain_render", "physical_gain")}
    print("relight gain against the truth, dB, median [95 % interval]:")
    labels = {
        "gain_change": "StyleFlow, change pasted",
        "gain_face": "StyleFlow, relit face pasted",
        "gain_render": "StyleFlow, relit render alone",
        "physical_gain": "physical SH ratio",
    }
    for key, label in labels.items():
        mid, low, high = gains[key]
        print(f"  {label:<30} {mid:+.2f} [{low:+.2f}, {high:+.2f}]")
    drifts = {k: 100 * float(np.median(lit[k])) for k in ("drift_change", "drift_face", "drift_unrelit_face")}
    print(
        f"landmark drift, %: relit change pasted {drifts['drift_change']:.2f}, relit face pasted "
        f"{drifts['drift_face']:.2f}, unrelit face pasted {drifts['drift_unrelit_face']:.2f}"
    )
    return {
        "relight_gain_db": [round(v, 3) for v in gains["gain_change"]],
        "relight_gain_face_paste_db": [round(v, 3) for v in gains["gain_face"]],
        "relight_physical_gain_db": [round(v, 3) for v in gains["physical_gain"]],
        "relight_landmark_drift": round(drifts["drift_change"], 3),
        "relight_landmark_drift_face_paste": round(drifts["drift_face"], 3),
        "unrelit_paste_drift": round(drifts["drift_unrelit_face"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100)
    parser.add_argument("--steps", type=int, default=300)
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
    groups = (
        ("twin GAN", trained, args.steps),
        (f"{EARLY} steps", trained, EARLY),
        ("untrained", untrained, args.steps),
    )
    for name, generator, steps in groups:
        renders[name] = projections(generator, distance, _tensor(faces.images), steps)
        rows[name] = projection_figures(
            pictures=renders[name][0],
            faces=faces,
            distance=distance,
            landmark_model=landmark_model,
            landmark_config=landmark_config,
        )
    ours = rows["twin GAN"]
    # The review sees all three kinds of projection; "faithful" is a drift at most twice the face's target NME
    distances = np.concatenate([row["distance"] for row in rows.values()])
    faithful = np.concatenate([row["drift"] <= 2 * target_nme for row in rows.values()])
    fit = np.tile(np.arange(args.faces) % 2 == 0, len(rows))  # calibrated on the even faces, judged on the odd
    threshold, precision, recall = review(distances, faithful, fit)
    print(f"{args.faces} held-out twin faces at 64 px, {args.steps} projector steps, twin distance")
    print(f"{'generator':<10} {'identification':>15} {'PSNR dB':>8} {'drift %':>8} {'distance':>9}")
    for name, row in rows.items():
        print(
            f"{name:<10} {row['identified'].mean():>15.3f} {np.median(row['psnr']):>8.2f} "
            f"{100 * np.median(row['drift']):>8.2f} {np.median(row['distance']):>9.3f}"
        )
    print(f"target NME {100 * np.median(target_nme):.2f} %; faithful (drift <= 2x target NME): {faithful.mean():.2f}")
    print(
        f"review threshold {threshold:.3f} (fitted on the even faces of all three): precision {precision:.3f}, "
        f"recall {recall:.3f} on the odd ones"
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
    results |= _relight_results(faces, renders, trained, ours, landmark_model, landmark_config)
    results["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
