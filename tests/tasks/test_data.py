from __future__ import annotations

from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from tasks.data import index_stage, subsets_stage, synth_stage
from tasks.stage import Store


def test_data_stages_chain_cache_and_recompute_only_what_changed(tmp_path):
    store = Store(tmp_path)
    config = SynthConfig(train=4, test=4, seed=1)
    dataset, c1 = synth_stage(store=store, config=config)
    index, c2 = index_stage(store=store, dataset=dataset)
    subsets, c3 = subsets_stage(store=store, index=index, config=SubsetConfig())
    assert (c1, c2, c3) == (True, True, True)
    assert len(index.manifest()) == len(subsets.manifest()) >= 8
    files = dataset.manifest()
    assert files["path"].str.startswith("wflw/").all() and files["sha256"].str.len().eq(64).all()
    assert files["path"].str.startswith("wflw/WFLW_images/").sum() == 8

    dataset2, d1 = synth_stage(store=store, config=config)
    index2, d2 = index_stage(store=store, dataset=dataset2)
    subsets2, d3 = subsets_stage(store=store, index=index2, config=SubsetConfig(frontal_limit_deg=20.0))
    assert (d1, d2, d3) == (False, False, True)
    assert index2.key == index.key and subsets2.key != subsets.key
    assert subsets2.manifest()["in_frontal"].sum() >= subsets.manifest()["in_frontal"].sum()


def test_new_dataset_bytes_under_the_same_names_reindex(tmp_path):
    store = Store(tmp_path)
    a, _ = synth_stage(store=store, config=SynthConfig(train=2, test=2, seed=1))
    b, _ = synth_stage(store=store, config=SynthConfig(train=2, test=2, seed=2))
    assert a.manifest()["path"].tolist() == b.manifest()["path"].tolist()  # same file names...
    assert a.digest != b.digest  # ...other bytes
    index_a, _ = index_stage(store=store, dataset=a)
    index_b, computed = index_stage(store=store, dataset=b)
    assert computed and index_a.key != index_b.key
