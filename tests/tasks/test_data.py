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
    assert dataset.manifest()["image_path"].str.startswith("wflw/WFLW_images/").all()

    dataset2, d1 = synth_stage(store=store, config=config)
    index2, d2 = index_stage(store=store, dataset=dataset2)
    subsets2, d3 = subsets_stage(store=store, index=index2, config=SubsetConfig(frontal_limit_deg=20.0))
    assert (d1, d2, d3) == (False, False, True)
    assert index2.key == index.key and subsets2.key != subsets.key
    assert subsets2.manifest()["in_frontal"].sum() >= subsets.manifest()["in_frontal"].sum()
