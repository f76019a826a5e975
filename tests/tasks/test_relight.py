"""relight_physical on a small synthetic twin: WFLW-format relit faces with their lighting, and quarantine."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from tasks.data import DATASET_DIR, index_stage, synth_stage
from tasks.relight import PhysicalParams, RelightControls, face_plan, relight_physical_stage

from landmark_core.synth.dataset import SynthConfig
from landmark_core.wflw_index import landmarks_array
from tasks.stage import StageResult, StageSpec, Store, run_stage


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("store"))
    dataset, _ = synth_stage(store=store, config=SynthConfig(train=6, test=1, seed=3))
    index, _ = index_stage(store=store, dataset=dataset)
    return store, dataset, index


def test_every_training_face_gets_its_variants_with_their_lighting(twin):
    store, dataset, index = twin
    params = PhysicalParams(controls=RelightControls(n_variants=2, k_lights=2, seed=1))
    out, computed = relight_physical_stage(store=store, dataset=dataset, index=index, params=params)
    faces = index.manifest()
    train = faces[faces["split"] == "train"]
    relit = out.manifest()
    assert computed and len(relit) == 2 * len(train) and set(relit["source_face_id"]) == set(train["face_id"])
    assert out.metadata()["info"] == {
        "backend": "physical",
        "faces": len(train),
        "relit_faces": len(train),
        "variants": len(relit),
        "quarantined": 0,
    }
    root = dataset.local_dir() / DATASET_DIR
    for _, row in relit.iterrows():
        original = train[train["face_id"] == row["source_face_id"]]
        assert np.array_equal(landmarks_array(relit.loc[[row.name]]), landmarks_array(original))
        assert row["image_path"].startswith("relit/") and row["source_image_path"] == original["image_path"].iloc[0]
        presets, amounts = face_plan(params.controls, row["source_face_id"])[row["variant"]]
        assert list(row["presets"]) == presets and list(row["amounts"]) == amounts
        assert len(row["source_sh"]) == len(row["target_sh"]) == 9
        assert not np.allclose(row["source_sh"], row["target_sh"])
        before = cv2.imread(str(root / row["source_image_path"]))
        after = cv2.imread(str(out.local_dir() / row["image_path"]))
        assert after.shape == before.shape and np.abs(after.astype(int) - before).max() > 5
    assert relight_physical_stage(store=store, dataset=dataset, index=index, params=params)[1] is False


def test_faces_that_cannot_be_relit_are_quarantined(twin, tmp_path):
    store, dataset, index = twin
    faces = index.manifest()
    broken = faces.copy()
    first = broken.index[broken["split"] == "train"][0]
    broken.at[first, "landmarks"] = np.full_like(np.asarray(broken.at[first, "landmarks"]), 5.0)  # collapsed
    spec = StageSpec(name="index_wflw", version=99, modules=("tasks.relight",))
    bad_index, _ = run_stage(
        store=Store(tmp_path),
        spec=spec,
        params={"broken": 1},
        inputs={},
        compute=lambda work: StageResult(manifest=broken),
    )
    params = PhysicalParams(controls=RelightControls(n_variants=1), max_faces=3)
    out, _ = relight_physical_stage(store=Store(tmp_path), dataset=dataset, index=bad_index, params=params)
    q = out.quarantine()
    assert list(q["face_id"]) == [broken.at[first, "face_id"]] and "too small" in q["reason"][0]
    assert q["reason"][0].startswith(broken.at[first, "image_path"])
    assert len(out.manifest()) == 2
    assert isinstance(out.manifest(), pd.DataFrame) and Path(out.local_dir()).is_dir()
