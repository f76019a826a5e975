from __future__ import annotations

import json
import multiprocessing
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest

from kit.stage import stage
from kit.store import STAGE_JSON, TMP_PREFIX, StageOutput, StageResult, Store, file_manifest
from tests.kit.toy_stages import CALLS, ToyConfig, toy, toy_down


@pytest.fixture(autouse=True)
def _no_calls():
    CALLS.clear()


def test_the_definition_gives_name_config_type_and_inputs():
    assert toy.name == "toy" and toy.config_type is ToyConfig and toy.module == "tests.kit.toy_stages"
    assert [(i.name, i.kind) for i in toy_down.inputs] == [("up", "one"), ("extra", "optional")]
    assert "tests.kit.toy_stages" in toy.modules() and "kit.stage" in toy.modules()


def test_a_store_lists_a_stages_complete_outputs_newest_first(tmp_path):
    store = Store(tmp_path)
    assert store.outputs("toy") == []
    first, _ = toy.run(store=store, config=ToyConfig(n=1))
    second, _ = toy.run(store=store, config=ToyConfig(n=2))
    meta = Path(first.path) / STAGE_JSON  # make the first one the newest
    data = json.loads(meta.read_text())
    meta.write_text(json.dumps({**data, "timings": {**data["timings"], "finished": "2999-01-01T00:00:00+00:00"}}))
    (tmp_path / "toy" / "unfinished").mkdir()  # no stage.json: not complete, not listed
    assert [o.key for o in store.outputs("toy")] == [first.key, second.key]


def test_same_inputs_same_key_and_no_recomputation(tmp_path):
    store = Store(tmp_path)
    first, computed = toy.run(store=store, config=ToyConfig())
    second, again = toy.run(store=store, config=ToyConfig())
    assert computed and not again and len(CALLS) == 1
    assert first.key == second.key == toy.key(config=ToyConfig(), inputs={})
    meta = first.metadata()
    assert meta["config"] == {"n": 3, "label": "a", "sleep": 0.0, "die": False}
    assert meta["counts"] == {"rows": 3, "quarantined": 1} and meta["code_version"] == toy.code_version()
    assert meta["stage"] == "toy" and meta["info"] == {"note": "toy"} and meta["timings"]["seconds"] >= 0
    assert first.manifest()["path"].tolist() == ["payload/0.txt", "payload/1.txt", "payload/2.txt"]
    assert first.quarantine()["reason"].tolist() == ["bad input"]
    assert (Path(first.path) / "payload" / "2.txt").read_text() == "2" * 1000


def test_fields_marked_out_of_the_key_do_not_change_it(tmp_path):
    store = Store(tmp_path)
    first, _ = toy.run(store=store, config=ToyConfig())
    slow, computed = toy.run(store=store, config=ToyConfig(sleep=0.01))
    assert slow.key == first.key and not computed


def test_changed_config_or_input_bytes_give_a_new_key(tmp_path):
    store = Store(tmp_path)
    a, _ = toy.run(store=store, config=ToyConfig(n=2))
    b, _ = toy.run(store=store, config=ToyConfig(n=3))
    assert a.key != b.key
    from_a, _ = toy_down.run(store=store, config=ToyConfig(), up=a)
    from_b, _ = toy_down.run(store=store, config=ToyConfig(), up=b)
    with_extra, _ = toy_down.run(store=store, config=ToyConfig(), up=a, extra=b)
    assert len({from_a.key, from_b.key, with_extra.key}) == 3
    assert from_a.metadata()["inputs"]["up"] == {"stage": "toy", "key": a.key, "manifest_sha256": a.digest}
    assert with_extra.manifest()["extra"].tolist() == [True]


def test_a_version_bump_changes_the_key():
    bumped = replace(toy, version=2)
    assert bumped.key(config=ToyConfig(), inputs={}) != toy.key(config=ToyConfig(), inputs={})


def test_wrong_config_type_or_inputs_are_refused(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(TypeError, match="config must be ToyConfig"):
        toy.run(store=store, config={"n": 3})
    up, _ = toy.run(store=store, config=ToyConfig())
    with pytest.raises(TypeError, match=r"unknown \['nope'\], missing \[\]"):
        toy_down.run(store=store, config=ToyConfig(), up=up, nope=up)
    with pytest.raises(TypeError, match=r"missing \['up'\]"):
        toy_down.run(store=store, config=ToyConfig())


def test_a_stage_function_must_declare_config_ctx_and_typed_inputs():
    with pytest.raises(TypeError, match="keyword-only"):

        @stage(version=1)
        def positional(config: ToyConfig, ctx) -> StageResult: ...

    with pytest.raises(TypeError, match="must be StageOutput"):

        @stage(version=1)
        def untyped(*, config: ToyConfig, ctx, up: int) -> StageResult: ...


@dataclass(frozen=True)
class Empty:
    """A config without settings."""


def test_a_failing_compute_leaves_nothing_visible(tmp_path):
    @stage(version=1)
    def boom(*, config: Empty, ctx) -> StageResult:
        (ctx.work / "half.txt").write_text("partial")
        raise RuntimeError("crash mid-write")

    store = Store(tmp_path)
    with pytest.raises(RuntimeError, match="crash mid-write"):
        boom.run(store=store, config=Empty())
    assert not store.is_complete("boom", boom.key(config=Empty(), inputs={}))
    assert list((tmp_path / "boom").iterdir()) == []


def _killed_writer(root: str) -> None:
    toy.run(store=Store(root), config=ToyConfig(die=True))


def test_a_killed_process_leaves_no_visible_output_and_a_rerun_finishes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_killed_writer, args=(str(tmp_path),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 17
    store = Store(tmp_path)
    key = toy.key(config=ToyConfig(), inputs={})
    assert not store.is_complete("toy", key) and not (tmp_path / "toy" / key).exists()
    assert [p.name.startswith(TMP_PREFIX) for p in (tmp_path / "toy").iterdir()] == [True]
    out, computed = toy.run(store=store, config=ToyConfig())
    assert computed and out.key == key
    assert [p.name for p in (tmp_path / "toy").iterdir()] == [key]  # the dead writer's copy was cleaned
    assert list((tmp_path / ".locks").iterdir()) == []  # its lease was taken over, then released


def _racer(root: str, barrier, results) -> None:
    barrier.wait()
    out, computed = toy.run(store=Store(root), config=ToyConfig(n=20, sleep=0.5))
    results.put((out.key, computed, out.digest))


def test_two_processes_same_key_one_result_no_torn_files(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(str(tmp_path), barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len({key for key, _, _ in outcomes}) == 1 and len({d for _, _, d in outcomes}) == 1
    assert sorted(computed for _, computed, _ in outcomes) == [False, True]  # the lease: computed once
    entries = list((tmp_path / "toy").iterdir())
    assert [e.name for e in entries] == [outcomes[0][0]]  # one result, no leftover temporaries
    files = sorted(p.name for p in (entries[0] / "payload").iterdir())
    assert len(files) == 20 and all((entries[0] / "payload" / f).stat().st_size == 1000 for f in files)
    assert json.loads((entries[0] / STAGE_JSON).read_text())["counts"]["rows"] == 20


def test_fsspec_memory_store(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # local work directories land here
    store = Store("memory://eltrepro-test-store")
    out, computed = toy.run(store=store, config=ToyConfig(n=2))
    assert computed and store.is_complete("toy", out.key)
    assert out.manifest()["item"].tolist() == [0, 1]
    again, computed_again = toy.run(store=store, config=ToyConfig(n=2))
    assert not computed_again and again.key == out.key
    local = out.local_dir(cache=tmp_path / "cache")
    assert (local / "payload" / "1.txt").read_text() == "1" * 1000 and (local / STAGE_JSON).is_file()
    assert not [p for p in store.fs.find(store.root) if TMP_PREFIX in p]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "eltrepro-locks"]  # no work directory left
    assert not list((tmp_path / "eltrepro-locks").rglob("*.lease"))  # the lease was released
    store.fs.rm(store.root, recursive=True)


def test_configs_must_be_structured():
    with pytest.raises(TypeError, match="stage configs must be"):
        toy.key(config={"obj": object()}, inputs={})


def test_file_manifest_tracks_bytes_not_only_names(tmp_path):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "sub" / "a.bin").write_bytes(b"one")
    (tmp_path / "data" / "b.bin").write_bytes(b"two")
    first = file_manifest(work=tmp_path, under="data")
    assert first["path"].tolist() == ["data/b.bin", "data/sub/a.bin"] and first["bytes"].tolist() == [3, 3]
    (tmp_path / "data" / "sub" / "a.bin").write_bytes(b"ONE")
    second = file_manifest(work=tmp_path, under="data")
    assert first["path"].tolist() == second["path"].tolist()
    assert first["sha256"].tolist()[0] == second["sha256"].tolist()[0]
    assert first["sha256"].tolist()[1] != second["sha256"].tolist()[1]


def test_a_family_input_keys_every_member(tmp_path):
    @stage(version=1)
    def gather(*, config: ToyConfig, ctx, parts: dict[str, StageOutput]) -> StageResult:
        return StageResult(manifest=pd.DataFrame({"part": sorted(parts)}))

    store = Store(tmp_path)
    a, _ = toy.run(store=store, config=ToyConfig(n=1))
    b, _ = toy.run(store=store, config=ToyConfig(n=2))
    both, _ = gather.run(store=store, config=ToyConfig(), parts={"a": a, "b": b})
    swapped, _ = gather.run(store=store, config=ToyConfig(), parts={"a": b, "b": a})
    assert both.manifest()["part"].tolist() == ["a", "b"] and both.key != swapped.key
    assert set(both.metadata()["inputs"]["parts"]) == {"a", "b"}
