"""Shards: cut on whole batches, keyed by the stage key and their rows, merged in order."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from kit.shards import ShardView, cut_shards, merge_infos, shard_key
from kit.stage import Runtime, StageContext, stage
from kit.store import StageOutput, StageResult, Store
from tests.kit.toy_stages import AlignedFacesConfig, aligned_faces
from tests.outputs import output_bytes


def test_shards_are_cut_on_whole_batches_and_cover_every_row_once():
    assert cut_shards(rows=10, shard_faces=4, batch_size=2) == [range(0, 4), range(4, 8), range(8, 10)]
    assert cut_shards(rows=10, shard_faces=3, batch_size=2) == [range(0, 4), range(4, 8), range(8, 10)]  # 3 -> 4
    assert cut_shards(rows=5, shard_faces=100) == [range(0, 5)]
    assert cut_shards(rows=0, shard_faces=2) == []
    with pytest.raises(ValueError, match="at least 1"):
        cut_shards(rows=4, shard_faces=0)


def test_a_shard_key_depends_on_the_stage_key_and_the_rows_only():
    key = shard_key(stage_key="a" * 20, rows=range(0, 4))
    assert key == shard_key(stage_key="a" * 20, rows=range(0, 4)) and len(key) == 20
    assert (
        len({key, shard_key(stage_key="b" * 20, rows=range(0, 4)), shard_key(stage_key="a" * 20, rows=range(4, 8))})
        == 3
    )


def test_infos_sum_the_declared_keys_keep_agreed_values_and_list_the_rest():
    infos = [{"device": "cpu", "kept": 2, "ok": True, "s": 0.5}, {"device": "cpu", "kept": 2, "ok": True, "s": 0.7}]
    assert merge_infos(infos, summed=("kept", "s")) == {"device": "cpu", "kept": 4, "ok": True, "s": pytest.approx(1.2)}
    assert merge_infos(infos) == {"device": "cpu", "kept": 2, "ok": True, "per_shard": {"s": [0.5, 0.7]}}
    mixed = [{"ok": True, "name": "x"}, {"ok": False, "name": "y"}]
    assert merge_infos(mixed, summed=("ok",)) == {"per_shard": {"ok": [True, False], "name": ["x", "y"]}}


@stage(version=1, shard_by="faces", sum_info=("faces",))
def count_letters(*, config: AlignedFacesConfig, ctx: StageContext, faces: StageOutput) -> StageResult:
    """A toy sharded stage: one file and one row per face of its input."""
    rows = faces.manifest()
    (ctx.work / "out").mkdir()
    for name in rows["detection_id"]:
        (ctx.work / "out" / f"{name}.txt").write_text(name.upper())
    return StageResult(manifest=pd.DataFrame({"detection_id": rows["detection_id"]}), info={"faces": len(rows)})


def test_a_shard_view_shows_its_rows_only(tmp_path):
    store = Store(tmp_path)
    faces, _ = aligned_faces.run(store=store, config=AlignedFacesConfig(faces=5))
    view = ShardView(store=store, stage=faces.stage, key=faces.key, rows=range(2, 4))
    assert view.manifest()["detection_id"].tolist() == faces.manifest()["detection_id"].tolist()[2:4]
    assert view.digest == faces.digest and view.local_dir() == faces.local_dir()


def test_a_sharded_stage_merges_to_the_unsharded_bytes_and_recomputes_only_a_missing_shard(tmp_path):
    config = AlignedFacesConfig(faces=5)
    outputs = {}
    for shard_faces in (0, 2, 5):
        store = Store(tmp_path / str(shard_faces))
        faces, _ = aligned_faces.run(store=store, config=config)
        out, computed = count_letters.run(
            store=store, config=config, runtime=Runtime(shard_faces=shard_faces), faces=faces
        )
        assert computed
        outputs[shard_faces] = out
    assert len({o.key for o in outputs.values()}) == 1  # sharding never enters the key
    files = {n: output_bytes(o) for n, o in outputs.items()}
    assert files[0] == files[2] == files[5] and len(files[0]) == 7  # 5 files, manifest, quarantine
    assert outputs[2].metadata()["info"] == {"faces": 5, "shards": 3}
    store = outputs[2].store
    shards = sorted(p.parent for p in (tmp_path / "2" / "count_letters.shard").glob("*/stage.json"))
    assert len(shards) == 3
    shutil.rmtree(outputs[2].local_dir())
    shutil.rmtree(shards[1])  # one shard lost (its worker died before publishing)
    kept = {p: p.stat().st_mtime_ns for p in shards if p != shards[1]}
    faces, _ = aligned_faces.run(store=store, config=config)
    again, computed = count_letters.run(store=store, config=config, runtime=Runtime(shard_faces=2), faces=faces)
    assert computed and again.key == outputs[2].key
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # the other shards were reused, not recomputed
    assert (shards[1] / "stage.json").is_file()  # the lost one was computed again
