from __future__ import annotations

import numpy as np

from landmark_core.subsets import SUBSETS, SubsetConfig, compute_subsets, subset_table
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
