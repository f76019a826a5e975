from __future__ import annotations

import numpy as np
import pandas as pd

from landmark_core.subsets import SUBSETS, SubsetConfig, compute_subsets, frontal_sensitivity, subset_table
from landmark_core.wflw_index import index_wflw


def test_frontal_subsets_follow_the_estimated_pose(synth_root):
    faces = index_wflw(root=synth_root).faces
    subsets = compute_subsets(faces=faces)
    assert subsets["face_id"].tolist() == faces["face_id"].tolist()
    angles = subsets[["yaw", "pitch", "roll"]].abs().max(axis=1)
    assert (subsets["in_frontal"] == (angles < 12.5)).all()
    assert (subsets["in_frontal_illumination"] == (subsets["in_frontal"] & subsets["in_illumination"])).all()
    assert 0 < subsets["in_frontal"].sum() < len(subsets)


def test_threshold_is_a_parameter(synth_root):
    faces = index_wflw(root=synth_root).faces
    strict = compute_subsets(faces=faces, config=SubsetConfig(frontal_limit_deg=5.0))
    loose = compute_subsets(faces=faces, config=SubsetConfig(frontal_limit_deg=30.0))
    assert strict["in_frontal"].sum() <= loose["in_frontal"].sum()
    assert (strict["in_frontal"] <= loose["in_frontal"]).all()


def test_table_counts_each_subset_per_split(synth_root):
    subsets = compute_subsets(faces=index_wflw(root=synth_root).faces)
    table = subset_table(subsets)
    assert list(table.index) == list(SUBSETS)
    assert list(table.columns) == ["train", "test"]
    assert table.loc["full", "test"] == int((subsets["split"] == "test").sum())
    np.testing.assert_array_equal(
        table["test"].to_numpy(), [int(subsets.loc[subsets["split"] == "test", f"in_{s}"].sum()) for s in SUBSETS]
    )


def test_a_face_without_a_pose_costs_its_row_only(synth_root, monkeypatch):
    import landmark_core.subsets as subsets_module

    faces = index_wflw(root=synth_root).faces
    collapsed = faces.copy()
    collapsed.at[collapsed.index[0], "landmarks"] = [7.0] * 196
    out = compute_subsets(faces=collapsed)
    first = out.iloc[0]
    assert np.isnan(first[["yaw", "pitch", "roll"]].to_numpy(float)).all() and not first["in_frontal"]
    assert first["pose_status"].startswith("PoseError:") and "collapsed" in first["pose_status"]
    assert (out["pose_status"].iloc[1:] == "ok").all() and len(out) == len(faces)

    def solver_bug(**kwargs):
        raise RuntimeError("the solver fell over\nwith a second line")

    monkeypatch.setattr(subsets_module, "estimate_head_pose", solver_bug)  # any error type, not only PoseError
    broken = compute_subsets(faces=faces.head(3))
    assert broken["pose_status"].tolist() == ["RuntimeError: with a second line"] * 3
    assert not broken["in_frontal"].any()


def test_the_landmark_set_is_a_setting(synth_root):
    faces = index_wflw(root=synth_root).faces.head(10)
    rigid = compute_subsets(faces=faces, config=SubsetConfig(landmark_set="rigid"))
    every = compute_subsets(faces=faces, config=SubsetConfig(landmark_set="all"))
    assert not np.allclose(rigid["pitch"], every["pitch"])  # different points, different fits
    assert (rigid[["yaw", "pitch", "roll"]] - every[["yaw", "pitch", "roll"]]).abs().median().max() < 5


def test_landmarks_outside_the_photo_are_kept_and_posed(synth_root):
    faces = index_wflw(root=synth_root).faces.head(2).copy()
    inside = compute_subsets(faces=faces)
    points = np.asarray(faces.at[faces.index[0], "landmarks"]).reshape(98, 2)
    faces.at[faces.index[0], "landmarks"] = (points - points.min(axis=0) - [40.0, 30.0]).ravel().tolist()
    outside = compute_subsets(faces=faces)  # the face now sticks out of the photo's top-left corner
    assert (outside["pose_status"] == "ok").all()
    np.testing.assert_allclose(
        outside.loc[0, ["yaw", "pitch", "roll"]].to_numpy(float),
        inside.loc[0, ["yaw", "pitch", "roll"]].to_numpy(float),
        atol=1e-6,
    )


def test_frontal_sensitivity_counts_each_rule_on_its_split():
    nan = float("nan")
    table = pd.DataFrame(
        {
            "split": ["test"] * 6 + ["train"],
            "yaw": [1.0, 11.0, -14.0, 3.0, 20.0, nan, 0.0],
            "pitch": [2.0, -2.0, 1.0, 13.0, 0.0, nan, 0.0],
            "roll": [0.0, 1.0, 1.0, 0.0, 0.0, nan, 0.0],
            "in_full": [True] * 7,
            "in_illumination": [True, True, False, True, True, True, True],
        }
    )
    counts = frontal_sensitivity(subsets=table)
    assert list(counts.columns) == ["frontal", "frontal_illumination"]
    assert not any("|" in rule for rule in counts.index)  # labels stand in a Markdown table
    assert counts.loc["yaw, pitch and roll within ±10°"].tolist() == [1, 1]  # face 0 only
    assert counts.loc["yaw, pitch and roll within ±12.5°"].tolist() == [2, 2]  # faces 0, 1
    assert counts.loc["yaw, pitch and roll within ±15°"].tolist() == [4, 3]  # 0, 1, 2 (not illumination), 3
    assert counts.loc["without yaw: pitch and roll within ±12.5°"].tolist() == [4, 3]  # 0, 1, 2, 4; never the NaN face
    assert counts.loc["without pitch: yaw and roll within ±12.5°"].tolist() == [3, 3]  # 0, 1, 3
    assert counts.loc["without roll: yaw and pitch within ±12.5°"].tolist() == [2, 2]
    assert frontal_sensitivity(subsets=table, split="train").loc["yaw, pitch and roll within ±10°"].tolist() == [1, 1]


def test_frontal_sensitivity_at_the_study_limit_matches_the_subsets(synth_root):
    subsets = compute_subsets(faces=index_wflw(root=synth_root).faces)
    counts = frontal_sensitivity(subsets=subsets).loc["yaw, pitch and roll within ±12.5°"]
    test = subsets[subsets["split"] == "test"]
    assert counts.tolist() == [int(test["in_frontal"].sum()), int(test["in_frontal_illumination"].sum())]
