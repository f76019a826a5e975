"""The study's evaluation subsets: WFLW's six attribute subsets plus ``frontal`` and ``frontal_illumination``.

``frontal`` holds the faces whose estimated head pose (POSIT in the face's own frame, ``landmark_core.headpose``)
has |yaw|, |pitch| and |roll| all below 12.5 degrees; ``frontal_illumination`` is frontal intersected with
WFLW's illumination subset. A face whose pose cannot be estimated, for any reason, gets NaN angles, is not
frontal and says why in ``pose_status``: one face never stops the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from landmark_core.headpose import FOCAL_FACE_RATIO, FRONTAL_LIMIT_DEG, HeadPose, estimate_head_pose
from landmark_core.wflw import TEST_SUBSET_FILES
from landmark_core.wflw_index import landmarks_array

SUBSETS: tuple[str, ...] = (*TEST_SUBSET_FILES, "frontal", "frontal_illumination")
POSE_OK = "ok"
STUDY_TEST_COUNTS = {"full": 2500, "frontal": 1042, "frontal_illumination": 323}  # the study's WFLW test split
ANGLES: tuple[str, ...] = ("yaw", "pitch", "roll")
SENSITIVITY_LIMITS_DEG: tuple[float, ...] = (10.0, 12.5, 15.0)


@dataclass(frozen=True)
class SubsetConfig:
    """Settings of the subsets stage.

    Attributes:
        frontal_limit_deg: a face is frontal when |yaw|, |pitch|, |roll| are all below this (study: 12.5).
        landmark_set: the landmarks POSIT fits: ``rigid`` (brows, nose, eye corners; the jaw contour and the mouth
            move with expression) or ``all`` 98.
        focal_face_ratio: the face-frame camera's focal length in face sizes (landmark-box diagonals).
    """

    frontal_limit_deg: Annotated[float, Field(gt=0, le=90)] = FRONTAL_LIMIT_DEG
    landmark_set: Literal["all", "rigid"] = "rigid"
    focal_face_ratio: Annotated[float, Field(gt=0)] = FOCAL_FACE_RATIO


def compute_subsets(*, faces: pd.DataFrame, config: SubsetConfig = SubsetConfig()) -> pd.DataFrame:
    """Head pose and subset memberships of every indexed face.

    Args:
        faces: the index table (``landmark_core.wflw_index.FACE_COLUMNS``).
        config: frontal threshold and camera assumption.

    Returns:
        One row per face: ``face_id``, ``split``, ``yaw``, ``pitch``, ``roll`` (degrees, NaN when unknown),
        ``pose_status`` (``ok`` or why there is no pose) and one boolean ``in_<subset>`` column for every name in
        SUBSETS.
    """
    points = landmarks_array(faces) if len(faces) else np.zeros((0, 98, 2))
    estimates = [face_pose(landmarks=p, config=config) for p in points]
    poses = [pose for pose, _ in estimates]
    out = faces[["face_id", "split"]].copy()
    out["yaw"] = [p.yaw for p in poses]
    out["pitch"] = [p.pitch for p in poses]
    out["roll"] = [p.roll for p in poses]
    out["pose_status"] = [status for _, status in estimates]
    for name in TEST_SUBSET_FILES:
        out[f"in_{name}"] = faces[f"in_{name}"].astype(bool).to_numpy()
    frontal = [p.is_frontal(config.frontal_limit_deg) for p in poses]  # NaN angles are never frontal
    out["in_frontal"] = pd.Series(frontal, index=out.index, dtype=bool) & out["in_full"]
    out["in_frontal_illumination"] = out["in_frontal"] & out["in_illumination"]
    return out.reset_index(drop=True)


def face_pose(*, landmarks: np.ndarray, config: SubsetConfig) -> tuple[HeadPose, str]:
    """One face's head pose and ``ok``; or NaN angles and the reason, whatever failed (one line).

    Shapes:
        landmarks (98, 2) pixel xy.
    """
    try:
        pose = estimate_head_pose(
            landmarks=landmarks, landmark_set=config.landmark_set, focal_face_ratio=config.focal_face_ratio
        )
    except Exception as error:  # any failure of one face's pose costs that face only
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        return HeadPose(np.nan, np.nan, np.nan), f"{type(error).__name__}: {reason}".rstrip(": ")
    return pose, POSE_OK


def subset_table(subsets: pd.DataFrame) -> pd.DataFrame:
    """Counts per subset and split.

    Returns:
        Index SUBSETS, one integer column per split present (train, test).
    """
    splits = [s for s in ("train", "test") if s in set(subsets["split"])]
    data = {s: [int(subsets.loc[subsets["split"] == s, f"in_{name}"].sum()) for name in SUBSETS] for s in splits}
    return pd.DataFrame(data, index=list(SUBSETS))


def frontal_sensitivity(
    *,
    subsets: pd.DataFrame,
    split: str = "test",
    limits_deg: tuple[float, ...] = SENSITIVITY_LIMITS_DEG,
    limit_deg: float = FRONTAL_LIMIT_DEG,
) -> pd.DataFrame:
    """How the frontal counts move with the frontal rule: the study does not publish its pose estimator's
    details, so a reader sees how much its frontal faces depend on the limit and on each angle.

    Args:
        subsets: the table of ``compute_subsets`` (angles in degrees, NaN when unknown; ``in_full``,
            ``in_illumination``).
        split: which split to count.
        limits_deg: the limits tried with all three angles in the rule.
        limit_deg: the limit of the rules that leave one angle out.

    Returns:
        Index: one rule per row (``yaw, pitch and roll within ±12.5°`` ..., then ``without yaw: pitch and roll
        within ±12.5°`` ...; no ``|`` in a label, so it can stand in a Markdown table);
        integer columns ``frontal`` and ``frontal_illumination``. A face without a pose is never frontal.
    """
    part = subsets[subsets["split"] == split]
    angles = part[list(ANGLES)].abs().to_numpy(dtype=float)  # NaN compares False: never frontal
    full = part["in_full"].to_numpy(dtype=bool)
    illumination = part["in_illumination"].to_numpy(dtype=bool)
    rules = {f"yaw, pitch and roll within ±{limit:g}°": (angles < limit).all(axis=1) for limit in limits_deg}
    for i, name in enumerate(ANGLES):
        kept = [j for j in range(len(ANGLES)) if j != i]
        rules[f"without {name}: {' and '.join(ANGLES[j] for j in kept)} within ±{limit_deg:g}°"] = (
            angles[:, kept] < limit_deg
        ).all(axis=1)
    rows = {
        rule: {"frontal": int((inside & full).sum()), "frontal_illumination": int((inside & full & illumination).sum())}
        for rule, inside in rules.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
