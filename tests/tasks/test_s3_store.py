"""The stage contract on a real S3 API (moto's server on loopback): the store workers on several machines share."""

from __future__ import annotations

import tempfile

import pytest

from kit.store import STAGE_JSON, TMP_PREFIX, Store
from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from tasks.index_wflw import IndexConfig, index_wflw
from tasks.subsets import subsets
from tasks.synth_wflw import synth_wflw
from tests.kit.toy_stages import ToyConfig, toy
from tests.s3 import s3_keys, s3_server, s3_store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.server


def test_data_stages_on_s3_have_the_local_keys_and_rerun_computes_nothing(s3_store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    config = SynthConfig(train=3, test=3, seed=5)
    remote, local = Store(s3_store), Store(tmp_path / "local")
    outputs = {}
    for name, store in (("remote", remote), ("local", local)):
        dataset, c1 = synth_wflw.run(store=store, config=config)
        index, c2 = index_wflw.run(store=store, config=IndexConfig(), dataset=dataset)
        subset, c3 = subsets.run(store=store, config=SubsetConfig(), index=index)
        assert (c1, c2, c3) == (True, True, True)
        outputs[name] = (dataset, index, subset)
    assert [o.key for o in outputs["remote"]] == [o.key for o in outputs["local"]]  # content-addressed
    assert outputs["remote"][2].manifest().equals(outputs["local"][2].manifest())
    keys = s3_keys(s3_store)
    assert sum(k.endswith(STAGE_JSON) for k in keys) == 3 and not [k for k in keys if TMP_PREFIX in k]
    assert sum("/synth_wflw/" in k and "/WFLW_images/" in k for k in keys) == 6  # the payload went up too
    again = synth_wflw.run(store=remote, config=config)
    assert again == (outputs["remote"][0], False)
    assert index_wflw.run(store=remote, config=IndexConfig(), dataset=again[0])[1] is False
    left = {p.name for p in (tmp_path / "tmp").iterdir()}  # no work folder: the read cache and lease folder only
    assert left <= {"eltrepro-store-cache", "eltrepro-locks"}
    assert not list((tmp_path / "tmp").rglob("*.lease"))


def test_an_upload_cut_before_stage_json_is_invisible_and_a_rerun_completes(s3_store, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    store = Store(s3_store)
    real_mv = store.fs.mv

    def crash_on_stage_json(src, dst, **kwargs):
        if dst.endswith(STAGE_JSON):
            raise ConnectionError("network cut before the commit marker")
        return real_mv(src, dst, **kwargs)

    monkeypatch.setattr(store.fs, "mv", crash_on_stage_json)
    with pytest.raises(ConnectionError):
        toy.run(store=store, config=ToyConfig(n=1))
    published = [k for k in s3_keys(s3_store) if k.endswith(STAGE_JSON) and TMP_PREFIX not in k]
    assert not published and not store.is_complete("toy", toy.key(config=ToyConfig(n=1), inputs={}))
    monkeypatch.setattr(store.fs, "mv", real_mv)
    out, computed = toy.run(store=store, config=ToyConfig(n=1))
    assert computed and store.is_complete("toy", out.key)
    assert (out.local_dir(cache=tmp_path / "cache") / "payload" / "0.txt").read_text() == "0" * 1000
