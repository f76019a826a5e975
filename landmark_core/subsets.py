"""The study's evaluation subsets: WFLW's six attribute subsets plus ``frontal`` and ``frontal_illumination``.

``frontal`` holds the faces whose estimated head pose has |yaw|, |pitch| and |roll| all below 12.5 degrees;
``frontal_illumination`` is frontal intersected with WFLW's illumination subset.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from landmark_core.headpose import FRONTAL_LIMIT_DEG, estimate_head_pose
from landmark_core.wflw import TEST_SUBSET_FILES
from landmark_core.wflw_index import landmarks_array

SUBSETS: tuple[str, ...] = (*TEST_SUBSET_FILES, "frontal", "frontal_illumination")


@dataclass(frozen=True)
class SubsetConfig:
    """Parameters of the subsets stage.

    Attributes:
        frontal_limit_deg: a face is frontal when |yaw|, |pitch|, |roll| are all below this (study: 12.5).
        focal: assumed focal length in pixels; None means max(image width, height).
    """

    frontal_limit_deg: float = FRONTAL_LIMIT_DEG
    focal: float | None = None


def compute_subsets(*, faces: pd.DataFrame, config: SubsetConfig = SubsetConfig()) -> pd.DataFrame:
    """Head pose and subset memberships of every indexed face.

    Args:
        faces: the index table (``landmark_core.wflw_index.FACE_COLUMNS``).
        config: frontal threshold and camera assumption.

    Returns:
        One row per face: ``face_id``, ``split``, ``yaw``, ``pitch``, ``roll`` (degrees) and one boolean
        ``in_<subset>`` column for every name in SUBSETS.
    """
    points = landmarks_array(faces)
    poses = [
        estimate_head_pose(landmarks=p, width=int(w), height=int(h), focal=config.focal)
        for p, w, h in zip(points, faces["image_width"], faces["image_height"], strict=True)
    ]
    out = faces[["face_id", "split"]].copy()
    out["yaw"] = [p.yaw for p in poses]
    out["pitch"] = [p.pitch for p in poses]
    out["roll"] = [p.roll for p in poses]
    for name in TEST_SUBSET_FILES:
        out[f"in_{name}"] = faces[f"in_{name}"].astype(bool).to_numpy()
    frontal = [p.is_frontal(config.frontal_limit_deg) for p in poses]
    out["in_frontal"] = pd.Series(frontal, index=out.index, dtype=bool) & out["in_full"]
    out["in_frontal_illumination"] = out["in_frontal"] & out["in_illumination"]
    return out.reset_index(drop=True)


def subset_table(subsets: pd.DataFrame) -> pd.DataFrame:
    """Counts per subset and split.

    Returns:
        Index SUBSETS, one integer column per split present (train, test).
    """
    splits = [s for s in ("train", "test") if s in set(subsets["split"])]
    data = {s: [int(subsets.loc[subsets["split"] == s, f"in_{name}"].sum()) for name in SUBSETS] for s in splits}
    return pd.DataFrame(data, index=list(SUBSETS))
