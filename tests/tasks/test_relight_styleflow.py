"""attributes -> relight_styleflow on projected faces of a small twin (random generator and flow stand-ins)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from gan_core.projector_config import ProjectorConfig
from kit.stage import Runtime
from kit.store import Store
from landmark_core.synth.dataset import SynthConfig
from tasks.attributes import AttributesConfig, attributes
from tasks.project import project
from tasks.published_weights import ProjectConfig
from tasks.relight_styleflow import StyleFlowConfig, relight_styleflow
from tasks.relight_variants import VariantsConfig
from tests.kit.toy_stages import CropConfig, face_crops
from tests.outputs import output_bytes

SHARED_DPR = Path(__file__).resolve().parents[3] / "shared" / "weights" / "dpr"
GENERATOR = ProjectConfig(
    generator="random",
    perceptual="random",
    batch_size=4,
    amp=False,
    projector=ProjectorConfig(steps=6, w_avg_samples=128, discard_step=3),
)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, publish_twin):
    twin = publish_twin(Store(tmp_path_factory.mktemp("store")), SynthConfig(train=4, test=1, seed=8))
    store, dataset, index = twin.store, twin.dataset, twin.index
    filtered, _ = face_crops.run(store=store, config=CropConfig(size=128), dataset=dataset, index=index)
    projected, _ = project.run(store=store, config=GENERATOR, filtered=filtered)
    return store, dataset, index, filtered, projected


def conditions_of(chain, config: AttributesConfig, weights_dir=None):
    """The attributes stage on the chain's projected faces."""
    store, dataset, index, filtered, projected = chain
    runtime = Runtime(weights_dir=str(weights_dir) if weights_dir else "")
    inputs = {"dataset": dataset, "index": index, "filtered": filtered, "projected": projected}
    return attributes.run(store=store, config=config, runtime=runtime, **inputs)[0]


def relight_styleflow_stage(*, store, filtered, projected, attributes, params):
    inputs = {"filtered": filtered, "projected": projected, "attributes": attributes}
    return relight_styleflow.run(store=store, config=params, **inputs)


def test_attributes_hold_the_condition_of_every_kept_face(chain):
    store, dataset, index, filtered, projected = chain
    out = conditions_of(chain, AttributesConfig(estimator="fit"))
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
    out = conditions_of(chain, AttributesConfig(estimator="dpr"), weights_dir=SHARED_DPR)
    table = out.manifest()
    assert all(np.allclose(a, b) for a, b in zip(table["sh"], table["sh_dpr"], strict=True))
    agreement = out.metadata()["info"]["dpr_vs_fit"]
    assert agreement["faces"] == len(table) and agreement["max_abs_diff"] >= agreement["median_abs_diff"] >= 0


def test_a_table_provider_needs_every_face(chain, tmp_path):
    store, dataset, index, filtered, projected = chain
    table = pd.DataFrame({"face_id": [index.manifest()["face_id"][0]], "gender": [1.0]})
    table.to_csv(tmp_path / "attrs.csv", index=False)
    params = AttributesConfig(estimator="fit", provider="table", table=str(tmp_path / "attrs.csv"))
    out = conditions_of(chain, params)
    assert len(out.manifest()) == 0  # the one listed face lacks attributes, the others are not listed
    reasons = " ".join(out.quarantine()["reason"])
    assert "lacks ['glasses'" in reasons and "is not in the attribute table" in reasons


def test_styleflow_relights_codes_and_renders_them_at_the_aligned_size(chain):
    store, dataset, index, filtered, projected = chain
    conditions = conditions_of(chain, AttributesConfig(estimator="fit"))
    params = StyleFlowConfig(flow="random", variants=VariantsConfig(n_variants=2), generator=GENERATOR)
    out, _ = relight_styleflow_stage(
        store=store, filtered=filtered, projected=projected, attributes=conditions, params=params
    )
    relit = out.manifest()
    assert len(relit) == 2 * len(conditions.manifest())
    assert (relit["code_change"] > 0).all() and (relit["backend"] == "styleflow").all()
    assert all(len(t) == 9 for t in relit["target_sh"]) and all(len(p) == 3 for p in relit["presets"])
    info = out.metadata()["info"]
    assert info["meaningful"] is False and "not meaningful" in info["warning"]
    for path in [*relit["image_path"], *relit["base_path"]]:
        assert cv2.imread(str(out.local_dir() / path)).shape == (128, 128, 3)
    assert relit.groupby("detection_id")["base_path"].nunique().eq(1).all()  # one unedited render per face
    with pytest.raises(FileNotFoundError, match="eltrepro weights fetch styleflow-large"):
        relight_styleflow_stage(
            store=store,
            filtered=filtered,
            projected=projected,
            attributes=conditions,
            params=dataclasses.replace(params, flow="styleflow-large"),
        )


def test_the_lighting_rows_must_be_a_range():
    for rows in ((5, 5), (-1, 3), (6, 2)):
        with pytest.raises(ValueError, match="w_rows"):
            StyleFlowConfig(w_rows=rows)


def test_the_twin_flow_relights_the_twin_generator_s_codes_in_the_rows_asked(chain):
    """The twin generator projects, the twin flow edits only the rows asked, and the unedited render is the
    projection's own picture."""
    store, dataset, index, filtered, projected = chain
    twin = dataclasses.replace(
        GENERATOR,
        generator="twin",
        perceptual="twin",
        projector=ProjectorConfig(steps=4, w_avg_samples=64, compare_size=64, discard_step=2),
    )
    codes, _ = project.run(store=store, config=twin, filtered=filtered)
    inputs = {"dataset": dataset, "index": index, "filtered": filtered, "projected": codes}
    conditions, _ = attributes.run(store=store, config=AttributesConfig(estimator="fit"), runtime=Runtime(), **inputs)
    params = StyleFlowConfig(flow="twin", w_rows=(0, 6), variants=VariantsConfig(n_variants=1), generator=twin)
    out, _ = relight_styleflow_stage(
        store=store, filtered=filtered, projected=codes, attributes=conditions, params=params
    )
    info, relit = out.metadata()["info"], out.manifest()
    assert info["meaningful"] is True and "warning" not in info and "twin GAN" in info["generator"]
    assert (relit["code_change"] > 0).all()
    first = relit.iloc[0]
    pictures = [cv2.imread(str(out.local_dir() / first[k])).astype(float) for k in ("image_path", "base_path")]
    assert np.abs(pictures[0] - pictures[1]).mean() > 0.5  # the light changed the picture


def test_attributes_and_styleflow_in_shards_give_the_unsharded_bytes(chain, tmp_path):
    """Both stages are sharded by face: one face per shard gives the bytes of one piece, and the same keys."""
    store, dataset, index, filtered, projected = chain
    variants = VariantsConfig(n_variants=2)
    params = StyleFlowConfig(flow="random", variants=variants, generator=GENERATOR, batch_size=1)  # 1-face shards
    made = {}
    for shard_faces in (0, 1):
        runtime = Runtime(shard_faces=shard_faces)
        target = Store(tmp_path / f"shards-{shard_faces}")  # inputs from the chain's store, outputs in this one
        sources = {"dataset": dataset, "index": index, "filtered": filtered, "projected": projected}
        conditions, _ = attributes.run(
            store=target, config=AttributesConfig(estimator="fit"), runtime=runtime, **sources
        )
        relit, _ = relight_styleflow.run(
            store=target, config=params, runtime=runtime, filtered=filtered, projected=projected, attributes=conditions
        )
        made[shard_faces] = (conditions, relit)
    for unsharded, sharded in zip(made[0], made[1], strict=True):
        assert unsharded.key == sharded.key
        assert output_bytes(unsharded) == output_bytes(sharded)
    faces = len(made[0][0].manifest())
    assert faces >= 2 and made[1][1].metadata()["info"]["shards"] == faces
    assert made[1][1].metadata()["info"]["variants"] == made[0][1].metadata()["info"]["variants"] == 2 * faces
