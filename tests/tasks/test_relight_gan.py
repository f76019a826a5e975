"""attributes -> relight_styleflow on projected faces of a small twin (random generator and flow stand-ins)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from tasks.data import DATASET_DIR, index_stage, synth_stage
from tasks.relight import RelightControls
from tasks.relight_gan import AttributesParams, StyleFlowParams, attributes_stage, relight_styleflow_stage

from gan_core.projector_config import ProjectorConfig
from landmark_core.synth.dataset import SynthConfig
from tasks.project import ProjectParams, project_stage
from tasks.stage import StageResult, StageSpec, Store, run_stage

SHARED_DPR = Path(__file__).resolve().parents[3] / "shared" / "weights" / "dpr"
GENERATOR = ProjectParams(
    generator="random",
    perceptual="random",
    batch_size=4,
    amp=False,
    projector=ProjectorConfig(steps=6, w_avg_samples=128, discard_step=3),
)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("store"))
    dataset, _ = synth_stage(store=store, config=SynthConfig(train=4, test=1, seed=8))
    index, _ = index_stage(store=store, dataset=dataset)
    faces = index.manifest()
    root = dataset.local_dir() / DATASET_DIR

    def compute(work: Path) -> StageResult:  # aligned stand-ins: the face box of each photo, 128x128
        (work / "aligned").mkdir()
        rows = []
        for i, face in faces.iterrows():
            photo = cv2.imread(str(root / face["image_path"]))
            x0, y0, x1, y1 = (int(face[k]) for k in ("bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"))
            path = f"aligned/face_{i}.png"
            cv2.imwrite(str(work / path), cv2.resize(photo[y0:y1, x0:x1], (128, 128)))
            rows.append({"detection_id": f"det{i}", "aligned_path": path, "wflw_face_id": face["face_id"]})
        return StageResult(manifest=pd.DataFrame(rows))

    spec = StageSpec(name="filter", version=1, modules=("tasks.relight_gan",))
    filtered, _ = run_stage(store=store, spec=spec, params={"n": len(faces)}, inputs={}, compute=compute)
    projected, _ = project_stage(store=store, filtered=filtered, params=GENERATOR)
    return store, dataset, index, filtered, projected


def test_attributes_hold_the_condition_of_every_kept_face(chain):
    store, dataset, index, filtered, projected = chain
    out, _ = attributes_stage(
        store=store,
        dataset=dataset,
        index=index,
        filtered=filtered,
        projected=projected,
        params=AttributesParams(estimator="fit"),
    )
    table = out.manifest()
    assert len(table) == len(projected.manifest()) and (table["estimator"] == "fit").all()
    for _, row in table.iterrows():
        condition = np.asarray(row["condition"])
        assert condition.shape == (17,) and np.allclose(condition[:9], row["sh"], atol=1e-6)
        assert row["attr_age"] == pytest.approx(30.541) and row["sh_dpr"] is None
    assert "StyleFlow's attribute means" in out.metadata()["info"]["note"]


@pytest.mark.skipif(not (SHARED_DPR / "trained_model_03.t7").is_file(), reason="published DPR weights not here")
def test_dpr_estimates_and_its_agreement_with_the_fit_is_recorded(chain):
    store, dataset, index, filtered, projected = chain
    out, _ = attributes_stage(
        store=store,
        dataset=dataset,
        index=index,
        filtered=filtered,
        projected=projected,
        params=AttributesParams(estimator="dpr"),
        weights_dir=SHARED_DPR,
    )
    table = out.manifest()
    assert all(np.allclose(a, b) for a, b in zip(table["sh"], table["sh_dpr"], strict=True))
    agreement = out.metadata()["info"]["dpr_vs_fit"]
    assert agreement["faces"] == len(table) and agreement["max_abs_diff"] >= agreement["median_abs_diff"] >= 0


def test_a_table_provider_needs_every_face(chain, tmp_path):
    store, dataset, index, filtered, projected = chain
    table = pd.DataFrame({"face_id": [index.manifest()["face_id"][0]], "gender": [1.0]})
    table.to_csv(tmp_path / "attrs.csv", index=False)
    params = AttributesParams(estimator="fit", provider="table", table=str(tmp_path / "attrs.csv"))
    out, _ = attributes_stage(
        store=store, dataset=dataset, index=index, filtered=filtered, projected=projected, params=params
    )
    assert len(out.manifest()) == 0  # the one listed face lacks attributes, the others are not listed
    reasons = " ".join(out.quarantine()["reason"])
    assert "lacks ['glasses'" in reasons and "is not in the attribute table" in reasons


def test_styleflow_relights_codes_and_renders_them_at_the_aligned_size(chain):
    store, dataset, index, filtered, projected = chain
    attributes, _ = attributes_stage(
        store=store,
        dataset=dataset,
        index=index,
        filtered=filtered,
        projected=projected,
        params=AttributesParams(estimator="fit"),
    )
    params = StyleFlowParams(flow="random", controls=RelightControls(n_variants=2), generator=GENERATOR)
    out, _ = relight_styleflow_stage(
        store=store, filtered=filtered, projected=projected, attributes=attributes, params=params
    )
    relit = out.manifest()
    assert len(relit) == 2 * len(attributes.manifest())
    assert (relit["code_change"] > 0).all() and (relit["backend"] == "styleflow").all()
    assert all(len(t) == 9 for t in relit["target_sh"]) and all(len(p) == 3 for p in relit["presets"])
    info = out.metadata()["info"]
    assert info["meaningful"] is False and "not meaningful" in info["warning"]
    for path in relit["image_path"]:
        assert cv2.imread(str(out.local_dir() / path)).shape == (128, 128, 3)
    with pytest.raises(FileNotFoundError, match="eltrepro weights fetch styleflow-large"):
        relight_styleflow_stage(
            store=store,
            filtered=filtered,
            projected=projected,
            attributes=attributes,
            params=dataclasses.replace(params, flow="styleflow-large"),
        )
