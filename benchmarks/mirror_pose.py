"""Mirror symmetry of the head-pose estimator: the pose of every face of a synthetic twin and of the same face
mirrored left-right, with the project's mirror-symmetric mean 3D face against the table as published (the named
baseline). A symmetric estimator gives the mirror image the opposite yaw and roll and the same pitch.

Usage: .venv/bin/python benchmarks/mirror_pose.py [--faces 100] [--seed 7]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from landmark_core.headpose import estimate_head_pose, mean_face_3d, published_mean_face_3d
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.wflw import FLIP_PERMUTATION
from landmark_core.wflw_index import index_wflw, landmarks_array


def mirrored(landmarks: np.ndarray, width: float) -> np.ndarray:
    """The same face's landmarks in the photo mirrored left-right, WFLW order. Shapes: (98, 2) -> (98, 2)."""
    flipped = np.c_[width - landmarks[:, 0], landmarks[:, 1]]
    return flipped[list(FLIP_PERMUTATION)]


def angles(points: np.ndarray, *, landmark_set: str, model: np.ndarray) -> np.ndarray:
    """(N, 3) yaw, pitch, roll in degrees of every face of ``points`` (N, 98, 2)."""
    poses = [estimate_head_pose(landmarks=p, landmark_set=landmark_set, model=model) for p in points]
    return np.array([[p.yaw, p.pitch, p.roll] for p in poses])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100, help="faces per split of the twin")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.faces < 1:
        parser.error("--faces must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        synthesize_wflw(out=Path(tmp), config=SynthConfig(train=args.faces, test=args.faces, seed=args.seed), workers=2)
        faces = index_wflw(root=Path(tmp)).faces
    points = landmarks_array(faces)
    flips = np.stack([mirrored(p, w) for p, w in zip(points, faces["image_width"].to_numpy(float), strict=True)])
    for name, model in (("published (baseline)", published_mean_face_3d()), ("mirror-symmetric", mean_face_3d())):
        for landmark_set in ("rigid", "all"):
            pose = angles(points, landmark_set=landmark_set, model=model)
            off = np.abs(angles(flips, landmark_set=landmark_set, model=model) - pose * [-1, 1, -1])
            median = np.median(off, axis=0)
            print(
                f"{name:21s} {landmark_set:5s} {len(pose)} faces: median |pose(mirror) - (-yaw, pitch, -roll)| "
                f"yaw {median[0]:.3f} deg, pitch {median[1]:.3f}, roll {median[2]:.3f}; largest {off.max():.1e} deg"
            )


if __name__ == "__main__":
    main()
