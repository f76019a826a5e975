"""The index and the subsets at WFLW's scale: 10,000 faces on photos of WFLW's geometry, timed end to end.

Generates a WFLW tree with the real data set's facts: 7,500 train and 2,500 test faces, about two per photo;
every photo 1024 px wide and 275 to 9,108 px tall (most about 700-1,500); faces 70 to 500 px across, anywhere in
the photo, some with landmarks outside it; poses from a mean 3D face seen by a camera of 1024-px photos; the
six attribute flags and the test subset files. Photos are real JPEGs of their size (one encoding per height,
copied), so reading their sizes is real work.

Then times ``index_wflw`` (image sizes from the JPEG headers) and ``compute_subsets`` (POSIT per face) on the
whole tree, against the goal of 60 s on 2 cores, and, on a sample of photos, reading sizes from headers against
decoding each photo (how the index read sizes before).

Usage: .venv/bin/python benchmarks/index_scale.py [--faces 10000] [--root /tmp/wflw-scale] [--sample 300]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from landmark_core.headpose import camera_matrix, mean_face_3d, project_points, rotation_from_pose
from landmark_core.image_size import image_size
from landmark_core.subsets import compute_subsets, subset_table
from landmark_core.wflw import ATTRIBUTES, IMAGES_DIR, WflwFace, write_wflw_annotations
from landmark_core.wflw_index import index_wflw

WIDTH = 1024
HEIGHTS = (275, 9108)
GOAL_S = 60.0


def photo_height(rng: np.random.Generator) -> int:
    """A WFLW-like photo height: mostly 700-1,500 px, the extremes 275 and 9,108 present."""
    if rng.random() < 0.01:
        return int(rng.choice(HEIGHTS))
    return int(np.clip(rng.lognormal(np.log(950), 0.35), *HEIGHTS)) // 25 * 25


def face_landmarks(rng: np.random.Generator, height: int) -> np.ndarray:
    """98 landmarks of a randomly posed face 70-500 px wide somewhere in a 1024 x ``height`` photo."""
    face_px = min(float(np.exp(rng.uniform(np.log(70), np.log(500)))), 0.7 * height)
    angles = rng.normal(0, [20, 10, 10])
    distance = WIDTH * 1.42 / face_px
    rotation = rotation_from_pose(yaw=angles[0], pitch=angles[1], roll=angles[2])
    K = camera_matrix(width=0, height=0, focal=WIDTH)
    points = project_points(points=mean_face_3d(), rotation=rotation, translation=np.array([0, 0, distance]), K=K)
    inset = -0.1 * face_px if rng.random() < 0.05 else 0.6 * face_px  # some faces stick out of the photo
    at = rng.uniform([inset, inset], [WIDTH - inset, max(height - inset, inset)])
    return points - points[54] + at


def make_tree(root: Path, *, faces: int, seed: int = 0) -> int:
    """Write the WFLW tree (photos and annotations) under ``root``; returns the number of photos."""
    rng = np.random.default_rng(seed)
    templates: dict[int, bytes] = {}
    by_split: dict[str, list[WflwFace]] = {"train": [], "test": []}
    n_test, photo, placed = faces // 4, 0, 0
    while placed < faces:
        height = photo_height(rng)
        if height not in templates:
            image = np.full((height, WIDTH, 3), 128, np.uint8)
            image[:, :, 0] = np.linspace(60, 200, height, dtype=np.uint8)[:, None]
            templates[height] = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
        name = f"{photo % 61}--event/{photo:06d}.jpg"
        (root / IMAGES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (root / IMAGES_DIR / name).write_bytes(templates[height])
        for _ in range(min(int(rng.integers(1, 4)), faces - placed)):
            landmarks = face_landmarks(rng, height)
            lo, hi = landmarks.min(0), landmarks.max(0)
            pad = 0.1 * (hi - lo)
            box = (*(lo - pad), *(hi + pad))
            flags = tuple(int(rng.random() < 0.2) for _ in ATTRIBUTES)
            split = "test" if placed < n_test else "train"
            by_split[split].append(WflwFace(landmarks=landmarks, bbox=box, attributes=flags, image=name))
            placed += 1
        photo += 1
    write_wflw_annotations(root, by_split)
    return photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=10_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/wflw-scale"))
    parser.add_argument("--sample", type=int, default=300, help="photos for the header-vs-decode comparison")
    args = parser.parse_args()
    if not (args.root / "WFLW_annotations").is_dir():
        began = time.perf_counter()
        photos = make_tree(args.root, faces=args.faces)
        print(f"generated {args.faces} faces on {photos} photos in {time.perf_counter() - began:.1f} s ({args.root})")
    began = time.perf_counter()
    result = index_wflw(root=args.root)
    indexed = time.perf_counter() - began
    subsets = compute_subsets(faces=result.faces)
    total = time.perf_counter() - began
    print(f"index: {len(result.faces)} faces, {len(result.quarantine)} quarantined, {indexed:.1f} s")
    no_pose = int((subsets["pose_status"] != "ok").sum())
    print(f"subsets (POSIT per face): {total - indexed:.1f} s; faces without a pose: {no_pose}")
    print(f"index + subsets: {total:.1f} s (goal <= {GOAL_S:.0f} s): {'met' if total <= GOAL_S else 'MISSED'}")
    print(subset_table(subsets).loc[["full", "frontal", "frontal_illumination"]].to_string())
    paths = sorted((args.root / IMAGES_DIR).rglob("*.jpg"))[: args.sample]
    began = time.perf_counter()
    for path in paths:
        image_size(path)
    header = time.perf_counter() - began
    began = time.perf_counter()
    for path in paths:
        cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    decode = time.perf_counter() - began
    print(
        f"image sizes of {len(paths)} photos: headers {1e3 * header / len(paths):.2f} ms/photo, decoding "
        f"{1e3 * decode / len(paths):.2f} ms/photo: decoding / headers = {decode / header:.0f}x"
    )


if __name__ == "__main__":
    main()
