"""The stage contract on a real S3 API (moto's server on loopback): the store workers on several machines share."""

from __future__ import annotations

import tempfile

import pytest
from tasks.data import index_stage, subsets_stage, synth_stage

from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from tasks.stage import STAGE_JSON, TMP_PREFIX, StageResult, StageSpec, Store, run_stage
from tests.s3 import s3_keys, s3_server, s3_store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.server


def test_data_stages_on_s3_have_the_local_keys_and_rerun_computes_nothing(s3_store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    config = SynthConfig(train=3, test=3, seed=5)
    remote, local = Store(s3_store), Store(tmp_path / "local")
    outputs = {}
    for name, store in (("remote", remote), ("local", local)):
        dataset, c1 = synth_stage(store=store, config=config)
        index, c2 = index_stage(store=store, dataset=dataset)
        subsets, c3 = subsets_stage(store=store, index=index, config=SubsetConfig())
        assert (c1, c2, c3) == (True, True, True)
        outputs[name] = (dataset, index, subsets)
    assert [o.key for o in outputs["remote"]] == [o.key for o in outputs["local"]]  # content-addressed
    assert outputs["remote"][2].manifest().equals(outputs["local"][2].manifest())
    keys = s3_keys(s3_store)
    assert sum(k.endswith(STAGE_JSON) for k in keys) == 3 and not [k for k in keys if TMP_PREFIX in k]
    assert sum("/synth_wflw/" in k and "/WFLW_images/" in k for k in keys) == 6  # the payload went up too
    again = synth_stage(store=remote, config=config)
    assert again == (outputs["remote"][0], False)
    assert index_stage(store=remote, dataset=again[0])[1] is False
    assert not list((tmp_path / "tmp").iterdir()) or all(
        p.name == "eltrepro-store-cache" for p in (tmp_path / "tmp").iterdir()
    )


def test_an_upload_cut_before_stage_json_is_invisible_and_a_rerun_completes(s3_store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spec = StageSpec(name="toy", version=1, modules=("tasks.stage",))

    def compute(work):
        (work / "payload.txt").write_text("x" * 100)
        import pandas as pd

        return StageResult(manifest=pd.DataFrame({"path": ["payload.txt"]}))

    store = Store(s3_store)
    real_mv = store.fs.mv

    def crash_on_stage_json(src, dst, **kwargs):
        if dst.endswith(STAGE_JSON):
            raise ConnectionError("network cut before the commit marker")
        return real_mv(src, dst, **kwargs)

    monkeypatch.setattr(store.fs, "mv", crash_on_stage_json)
    with pytest.raises(ConnectionError):
        run_stage(store=store, spec=spec, params={"n": 1}, inputs={}, compute=compute)
    published = [k for k in s3_keys(s3_store) if k.endswith(STAGE_JSON) and TMP_PREFIX not in k]
    assert not published and not store.is_complete("toy", spec.key(params={"n": 1}, input_digests={}))
    monkeypatch.setattr(store.fs, "mv", real_mv)
    out, computed = run_stage(store=store, spec=spec, params={"n": 1}, inputs={}, compute=compute)
    assert computed and store.is_complete("toy", out.key)
    assert (out.local_dir(cache=tmp_path / "cache") / "payload.txt").read_text() == "x" * 100
