"""Two-view samples per second per core for the rotation+translation ELT sampler, against two baselines.

All three pipelines do the same work per sample on WFLW-sized images (1000x700, face boxes 80-400 px):
shared step 1 (flip, one occluder, HSV change, Gaussian blur, scale; r1 = 0) then, per view, a rotation and
a translation (r2 = 0.05) and the 1.6x box crop to 128x128, with the 98 landmarks carried along.

* ours: ``landmark_core`` sampler + ``render_views`` (one warp per view, straight from the original image);
  also measured with the optional ``antialias`` area reduction.
* albumentations: the same operations as an albumentations pipeline, applied op by op to full-size images
  (the usual way), step 1 once and step 2 per view, then crop + resize.
* floor: per view one ``cv2.warpAffine`` to 128x128 plus the HSV change and the blur, nothing else (no
  sampling logic, no occluder, no landmarks): a lower bound for any pipeline doing these operations.

Every random op fires with probability 1 in all three, so the work is comparable. One thread
(``cv2.setNumThreads(1)``), images already decoded. Prints samples/s of each and the two ratios the issue
sets goals for: ours / albumentations (goal >= 1.5) and floor / ours time ratio (goal <= 1.3).

Usage: .venv/bin/python benchmarks/augment.py [--samples 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import albumentations as A  # noqa: N812 (its documented import name)
import cv2
import numpy as np

from landmark_core.augment import FaceContext, _apply_op, _lighting_lut, render_views, sample_views
from landmark_core.augment import Lighting as LightingOp
from landmark_core.geometry import rotation_scale, square_crop
from landmark_core.headpose import mean_face_3d
from landmark_core.sampler import AugmentConfig, train_steps

W, H, SIZE = 1000, 700, 128
CONFIG = AugmentConfig(r1=0.0, r2=0.05, flip_p=1.0, occlusion_p=1.0, lighting_p=1.0, blur_p=1.0)


def make_faces(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]]:
    """n random images with a mean-face landmark set at a random place and size."""
    rng = np.random.default_rng(seed)
    mean = mean_face_3d()[:, :2] * np.array([1.0, -1.0])
    out = []
    for _ in range(n):
        image = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
        side = rng.uniform(80, 400)
        centre = rng.uniform([side / 2, side / 2], [W - side / 2, H - side / 2])
        pts = mean / np.ptp(mean, axis=0).max() * side + centre
        out.append((image, pts, (*pts.min(axis=0), *pts.max(axis=0))))
    return out


def ours(faces, rng, antialias=False):
    steps = train_steps(CONFIG)
    for image, pts, box in faces:
        views = sample_views(steps=steps, ctx=FaceContext.from_box(box), landmarks=pts, rng=rng)
        render_views(image=image, landmarks=pts, views=views, size=SIZE, antialias=antialias)


def floor(faces, rng):
    for image, _, box in faces:
        ctx = FaceContext.from_box(box)
        crop = square_crop(center=ctx.center, side=1.6 * max(ctx.width, ctx.height), size=SIZE)
        for _ in range(2):
            m = crop @ rotation_scale(angle_deg=rng.uniform(-45, 45), scale=1.0, center=ctx.center)
            out = cv2.warpAffine(image, m[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR)
            hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV)
            out = cv2.cvtColor(cv2.LUT(hsv, _lighting_lut(tuple(rng.uniform(0.5, 1.5, size=3)))), cv2.COLOR_HSV2BGR)
            # The same blur as ours: a random odd kernel in [3, 9] at the source, its sigma scaled into the crop.
            k = 2 * int(rng.integers(1, 5)) + 1
            sigma = (0.3 * ((k - 1) * 0.5 - 1) + 0.8) * np.hypot(m[0, 0], m[0, 1])
            if sigma >= 0.3:
                cv2.GaussianBlur(out, (0, 0), sigmaX=sigma)


def albumentations_pipeline(faces):
    """Built once per face outside the timed loop (the crop depends on the face box)."""
    kp = A.KeypointParams(format="xy", remove_invisible=False)
    step1 = A.Compose(
        [
            A.HorizontalFlip(p=1.0),
            A.CoarseDropout(
                num_holes_range=(1, 1),
                hole_height_range=(0.04, 0.15),
                hole_width_range=(0.03, 0.12),
                fill="random",
                p=1.0,
            ),
            A.HueSaturationValue(p=1.0),
            A.GaussianBlur(blur_limit=(3, 9), p=1.0),
            A.Affine(scale=(0.85, 1.15), p=1.0),
        ],
        keypoint_params=kp,
    )
    step2 = []
    for _, _, box in faces:
        ctx = FaceContext.from_box(box)
        half = 0.8 * max(ctx.width, ctx.height)
        x0, y0 = int(max(ctx.center[0] - half, 0)), int(max(ctx.center[1] - half, 0))
        x1, y1 = int(min(ctx.center[0] + half, W)), int(min(ctx.center[1] + half, H))
        step2.append(
            A.Compose(
                [
                    A.Affine(rotate=(-45, 45), translate_percent=(-0.05, 0.05), p=1.0),
                    A.Crop(x_min=x0, y_min=y0, x_max=x1, y_max=y1),
                    A.Resize(SIZE, SIZE),
                ],
                keypoint_params=kp,
            )
        )
    return step1, step2


def albu(faces, pipeline):
    step1, step2 = pipeline
    for (image, pts, _), second in zip(faces, step2, strict=True):
        shared = step1(image=image, keypoints=pts)
        for _ in range(2):
            second(image=shared["image"], keypoints=shared["keypoints"])


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    warnings.filterwarnings("ignore")
    faces = make_faces(args.samples)
    pipeline = albumentations_pipeline(faces)
    _apply_op(np.zeros((8, 8, 3), np.uint8), LightingOp(factors=(1.0, 1.0, 1.0)), np.eye(3))  # warm up
    t_ours = timed(lambda: ours(faces, np.random.default_rng(0)), args.repeats)
    t_aa = timed(lambda: ours(faces, np.random.default_rng(0), antialias=True), args.repeats)
    t_floor = timed(lambda: floor(faces, np.random.default_rng(0)), args.repeats)
    t_albu = timed(lambda: albu(faces, pipeline), args.repeats)
    n = args.samples
    print(f"two-view samples per second on one core ({n} samples of {W}x{H}, best of {args.repeats}):")
    print(f"  ours            {n / t_ours:8.1f}")
    print(f"  ours, antialias {n / t_aa:8.1f}   (optional area reduction of large faces)")
    print(f"  albumentations  {n / t_albu:8.1f}")
    print(f"  floor           {n / t_floor:8.1f}")
    print(f"ours / albumentations speed: {t_albu / t_ours:.2f}x (goal >= 1.5)")
    print(f"ours / floor time:           {t_ours / t_floor:.2f}x (goal <= 1.3)")
    print(f"antialias costs              {t_aa / t_ours:.2f}x the default")


if __name__ == "__main__":
    main()
