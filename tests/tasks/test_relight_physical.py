"""relight_physical on a small synthetic twin: WFLW-format relit faces with their lighting, and quarantine."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from kit.store import Store
from landmark_core.synth.dataset import SynthConfig
from landmark_core.wflw_index import landmarks_array
from tasks.dataset_tree import dataset_root
from tasks.relight_physical import PhysicalRelightConfig, relight_physical
from tasks.relight_variants import VariantsConfig, face_plan
from tests.kit.toy_stages import CollapseConfig, collapsed_index


@pytest.fixture(scope="module")
def twin(tmp_path_factory, publish_twin):
    twin = publish_twin(Store(tmp_path_factory.mktemp("store")), SynthConfig(train=6, test=1, seed=3))
    return twin.store, twin.dataset, twin.index


def test_every_training_face_gets_its_variants_with_their_lighting(twin):
    store, dataset, index = twin
    config = PhysicalRelightConfig(variants=VariantsConfig(n_variants=2, k_lights=2, seed=1))
    out, computed = relight_physical.run(store=store, config=config, dataset=dataset, index=index)
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
    root = dataset_root(dataset)
    for _, row in relit.iterrows():
        original = train[train["face_id"] == row["source_face_id"]]
        assert np.array_equal(landmarks_array(relit.loc[[row.name]]), landmarks_array(original))
        assert row["image_path"].startswith("relit/") and row["source_image_path"] == original["image_path"].iloc[0]
        presets, amounts = face_plan(config.variants, row["source_face_id"])[row["variant"]]
        assert list(row["presets"]) == presets and list(row["amounts"]) == amounts
        assert len(row["source_sh"]) == len(row["target_sh"]) == 9
        assert not np.allclose(row["source_sh"], row["target_sh"])
        before = cv2.imread(str(root / row["source_image_path"]))
        after = cv2.imread(str(out.local_dir() / row["image_path"]))
        assert after.shape == before.shape and np.abs(after.astype(int) - before).max() > 5
    assert relight_physical.run(store=store, config=config, dataset=dataset, index=index)[1] is False


def test_faces_that_cannot_be_relit_are_quarantined(twin, tmp_path):
    store, dataset, index = twin
    bad_index, _ = collapsed_index.run(store=Store(tmp_path), config=CollapseConfig(face=0), index=index)
    broken = bad_index.manifest()
    first = broken.index[broken["split"] == "train"][0]
    config = PhysicalRelightConfig(variants=VariantsConfig(n_variants=1), max_faces=3)
    out, _ = relight_physical.run(store=Store(tmp_path), config=config, dataset=dataset, index=bad_index)
    q = out.quarantine()
    assert list(q["face_id"]) == [broken.at[first, "face_id"]] and "too small" in q["reason"][0]
    assert q["reason"][0].startswith(broken.at[first, "image_path"])
    assert len(out.manifest()) == 2
    assert isinstance(out.manifest(), pd.DataFrame) and Path(out.local_dir()).is_dir()
