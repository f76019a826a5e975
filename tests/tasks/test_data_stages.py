from __future__ import annotations

import hashlib

import pytest

from kit.store import Store
from landmark_core.download import DownloadError
from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from landmark_core.wflw_index import index_wflw as index_tree
from tasks.download_wflw import DownloadConfig, WflwSourceConfig, download_wflw, fetch_wflw
from tasks.index_wflw import IndexConfig, index_wflw
from tasks.subsets import subsets
from tasks.synth_wflw import synth_wflw
from tests.loopback import Loopback, tar_dir


def synth_stage(*, store, config):
    return synth_wflw.run(store=store, config=config)


def index_stage(*, store, dataset):
    return index_wflw.run(store=store, config=IndexConfig(), dataset=dataset)


def subsets_stage(*, store, index, config):
    return subsets.run(store=store, config=config, index=index)


def download_stage(*, store, source):
    config, _ = fetch_wflw(source)
    return download_wflw.run(store=store, config=config)


def test_data_stages_chain_cache_and_recompute_only_what_changed(tmp_path):
    store = Store(tmp_path)
    config = SynthConfig(train=4, test=4, seed=1)
    dataset, c1 = synth_stage(store=store, config=config)
    index, c2 = index_stage(store=store, dataset=dataset)
    subset, c3 = subsets_stage(store=store, index=index, config=SubsetConfig())
    assert (c1, c2, c3) == (True, True, True)
    assert len(index.manifest()) == len(subset.manifest()) >= 8
    files = dataset.manifest()
    assert files["path"].str.startswith("wflw/").all() and files["sha256"].str.len().eq(64).all()
    assert files["path"].str.startswith("wflw/WFLW_images/").sum() == 8

    dataset2, d1 = synth_stage(store=store, config=config)
    index2, d2 = index_stage(store=store, dataset=dataset2)
    subsets2, d3 = subsets_stage(store=store, index=index2, config=SubsetConfig(frontal_limit_deg=20.0))
    assert (d1, d2, d3) == (False, False, True)
    assert index2.key == index.key and subsets2.key != subset.key
    assert subsets2.manifest()["in_frontal"].sum() >= subset.manifest()["in_frontal"].sum()


def test_new_dataset_bytes_under_the_same_names_reindex(tmp_path):
    store = Store(tmp_path)
    a, _ = synth_stage(store=store, config=SynthConfig(train=2, test=2, seed=1))
    b, _ = synth_stage(store=store, config=SynthConfig(train=2, test=2, seed=2))
    assert a.manifest()["path"].tolist() == b.manifest()["path"].tolist()  # same file names...
    assert a.digest != b.digest  # ...other bytes
    index_a, _ = index_stage(store=store, dataset=a)
    index_b, computed = index_stage(store=store, dataset=b)
    assert computed and index_a.key != index_b.key


@pytest.fixture()
def wflw_mirror(synth_root):
    """A loopback HTTP mirror serving the synthetic twin packed as the two WFLW archives."""
    server = Loopback()
    server.files["WFLW_images.tar.gz"] = tar_dir(synth_root, "WFLW_images")
    server.files["WFLW_annotations.tar.gz"] = tar_dir(synth_root, "WFLW_annotations")
    yield server
    server.close()


@pytest.mark.server
def test_download_stage_publishes_the_fetched_wflw_and_is_keyed_by_the_archive_digests(
    wflw_mirror, synth_root, tmp_path
):
    store = Store(tmp_path / "store")
    source = WflwSourceConfig(dest=str(tmp_path / "dl"), mirror=wflw_mirror.url, trust_first_download=True)
    assert source.known_digests() is None  # nothing pinned yet: the key is known only after the download
    dataset, computed = download_stage(store=store, source=source)
    assert computed and dataset.stage == "download_wflw"
    expected = {name: hashlib.sha256(data).hexdigest() for name, data in wflw_mirror.files.items()}
    assert dataset.metadata()["info"]["archives"] == expected
    assert source.known_digests() == expected  # pinned in dest/checksums.json by the first download
    config = DownloadConfig(sha256=tuple(sorted(expected.items())), dest="elsewhere")  # where is not in the key
    assert dataset.key == download_wflw.key(config=config, inputs={})
    index, _ = index_stage(store=store, dataset=dataset)
    assert len(index.manifest()) == len(index_tree(root=synth_root).faces) and index.quarantine().empty

    requests = len(wflw_mirror.requests)
    pinned = WflwSourceConfig(dest=source.dest, mirror=wflw_mirror.url)  # no trust flag needed once pinned
    again, computed_again = download_stage(store=store, source=pinned)
    assert not computed_again and again.key == dataset.key and len(wflw_mirror.requests) == requests


@pytest.mark.server
def test_download_stage_refuses_unpinned_archives_and_publishes_nothing(wflw_mirror, tmp_path):
    store = Store(tmp_path / "store")
    with pytest.raises(DownloadError, match="trust-first-download"):
        download_stage(store=store, source=WflwSourceConfig(dest=str(tmp_path / "dl"), mirror=wflw_mirror.url))
    wrong = (("WFLW_annotations.tar.gz", "0" * 64), ("WFLW_images.tar.gz", "0" * 64))
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_stage(
            store=store, source=WflwSourceConfig(dest=str(tmp_path / "dl"), mirror=wflw_mirror.url, sha256=wrong)
        )
    published = tmp_path / "store" / download_wflw.name
    assert not published.exists() or not any(published.iterdir())


def test_subsets_quarantine_a_face_without_a_pose_and_count_the_frontal_faces(tmp_path, publish_twin):
    from tests.kit.toy_stages import CollapseConfig, collapsed_index

    twin = publish_twin(Store(tmp_path), SynthConfig(train=4, test=4, seed=1))
    bad_index, _ = collapsed_index.run(store=twin.store, config=CollapseConfig(face=0), index=twin.index)
    out, _ = subsets.run(store=twin.store, config=SubsetConfig(), index=bad_index)
    table, quarantine = out.manifest(), out.quarantine()
    broken = bad_index.manifest().query("split == 'train'")["face_id"].iloc[0]
    assert quarantine["face_id"].tolist() == [broken] and "collapsed" in quarantine["reason"][0]
    assert len(table) == len(bad_index.manifest())  # the face keeps its row, without a pose
    counts = out.metadata()["info"]["counts"]
    assert counts["study_test"] == {"full": 2500, "frontal": 1042, "frontal_illumination": 323}
    assert counts["test"]["full"] == int((table["split"] == "test").sum())
    assert counts["test"]["frontal"] == int(table.query("split == 'test'")["in_frontal"].sum())
