from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tasks.stage import STAGE_JSON, TMP_PREFIX, StageResult, StageSpec, Store, code_version, file_manifest, run_stage

SPEC = StageSpec(name="toy", version=1, modules=("tasks.stage",))


@dataclass(frozen=True)
class ToyParams:
    n: int = 3
    label: str = "a"


def _compute(n: int, calls: list | None = None, sleep: float = 0.0):
    def compute(work: Path) -> StageResult:
        if calls is not None:
            calls.append(1)
        (work / "payload").mkdir()
        for i in range(n):
            (work / "payload" / f"{i}.txt").write_text((str(i) * 1000)[:1000])
            time.sleep(sleep / max(n, 1))
        manifest = pd.DataFrame({"item": range(n), "path": [f"payload/{i}.txt" for i in range(n)]})
        quarantine = pd.DataFrame({"item": [99], "reason": ["bad input"]})
        return StageResult(manifest=manifest, quarantine=quarantine, info={"note": "toy"})

    return compute


def test_same_inputs_same_key_and_no_recomputation(tmp_path):
    store, calls = Store(tmp_path), []
    first, computed = run_stage(store=store, spec=SPEC, params=ToyParams(), inputs={}, compute=_compute(3, calls))
    second, again = run_stage(store=store, spec=SPEC, params=ToyParams(), inputs={}, compute=_compute(3, calls))
    assert computed and not again and calls == [1]
    assert first.key == second.key
    meta = first.metadata()
    assert meta["params"] == {"n": 3, "label": "a"} and meta["counts"] == {"rows": 3, "quarantined": 1}
    assert meta["stage"] == "toy" and meta["info"] == {"note": "toy"} and meta["timings"]["seconds"] >= 0
    assert first.manifest()["path"].tolist() == ["payload/0.txt", "payload/1.txt", "payload/2.txt"]
    assert first.quarantine()["reason"].tolist() == ["bad input"]
    assert (Path(first.path) / "payload" / "2.txt").read_text() == "2" * 1000


def test_changed_param_or_input_bytes_give_a_new_key(tmp_path):
    store = Store(tmp_path)
    a, _ = run_stage(store=store, spec=SPEC, params=ToyParams(n=2), inputs={}, compute=_compute(2))
    b, _ = run_stage(store=store, spec=SPEC, params=ToyParams(n=3), inputs={}, compute=_compute(3))
    assert a.key != b.key
    down = StageSpec(name="down", version=1, modules=("tasks.stage",))
    from_a, _ = run_stage(store=store, spec=down, params=ToyParams(), inputs={"up": a}, compute=_compute(1))
    from_b, _ = run_stage(store=store, spec=down, params=ToyParams(), inputs={"up": b}, compute=_compute(1))
    assert from_a.key != from_b.key
    assert from_a.metadata()["inputs"]["up"] == {"stage": "toy", "key": a.key, "manifest_sha256": a.digest}
    assert SPEC.key(params=ToyParams(), input_digests={"x": "1"}) != SPEC.key(
        params=ToyParams(), input_digests={"x": "2"}
    )
    bumped = StageSpec(name="toy", version=2, modules=SPEC.modules)
    assert bumped.key(params=ToyParams(), input_digests={}) != SPEC.key(params=ToyParams(), input_digests={})


def test_code_version_follows_the_stage_modules_only(tmp_path, monkeypatch):
    module = tmp_path / "toy_stage_module.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_version(["toy_stage_module"])
    assert code_version(["toy_stage_module"]) == before
    module.write_text("X = 2\n")
    assert code_version(["toy_stage_module"]) != before
    assert code_version(["tasks.stage"]) == code_version(["tasks.stage"])
    sys.modules.pop("toy_stage_module", None)


def test_a_failing_compute_leaves_nothing_visible(tmp_path):
    store = Store(tmp_path)

    def boom(work: Path) -> StageResult:
        (work / "half.txt").write_text("partial")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError, match="crash mid-write"):
        run_stage(store=store, spec=SPEC, params=ToyParams(), inputs={}, compute=boom)
    key = SPEC.key(params=ToyParams(), input_digests={})
    assert not store.is_complete("toy", key)
    assert list((tmp_path / "toy").iterdir()) == []


def _killed_writer(root: str) -> None:
    def die(work: Path) -> StageResult:
        (work / "half.txt").write_text("partial")
        os._exit(17)  # a hard crash: no cleanup runs

    run_stage(store=Store(root), spec=SPEC, params=ToyParams(), inputs={}, compute=die)


def test_a_killed_process_leaves_no_visible_output_and_a_rerun_finishes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_killed_writer, args=(str(tmp_path),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 17
    store = Store(tmp_path)
    key = SPEC.key(params=ToyParams(), input_digests={})
    assert not store.is_complete("toy", key) and not (tmp_path / "toy" / key).exists()
    assert [p.name.startswith(TMP_PREFIX) for p in (tmp_path / "toy").iterdir()] == [True]
    out, computed = run_stage(store=store, spec=SPEC, params=ToyParams(), inputs={}, compute=_compute(3))
    assert computed and out.key == key
    assert store.clean_temporaries("toy", older_than_s=0) == 1
    assert [p.name for p in (tmp_path / "toy").iterdir()] == [key]


def _racer(root: str, barrier, results) -> None:
    barrier.wait()
    out, computed = run_stage(store=Store(root), spec=SPEC, params=ToyParams(n=20), inputs={},
                              compute=_compute(20, sleep=0.5))  # fmt: skip
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
    entries = list((tmp_path / "toy").iterdir())
    assert [e.name for e in entries] == [outcomes[0][0]]  # one result, no leftover temporaries
    files = sorted(p.name for p in (entries[0] / "payload").iterdir())
    assert len(files) == 20 and all((entries[0] / "payload" / f).stat().st_size == 1000 for f in files)
    assert json.loads((entries[0] / STAGE_JSON).read_text())["counts"]["rows"] == 20


def test_fsspec_memory_store(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # local work directories land here
    store = Store("memory://eltrepro-test-store")
    out, computed = run_stage(store=store, spec=SPEC, params=ToyParams(), inputs={}, compute=_compute(2))
    assert computed and store.is_complete("toy", out.key)
    assert out.manifest()["item"].tolist() == [0, 1]
    again, computed_again = run_stage(store=store, spec=SPEC, params=ToyParams(), inputs={}, compute=_compute(2))
    assert not computed_again and again.key == out.key
    local = out.local_dir(cache=tmp_path / "cache")
    assert (local / "payload" / "1.txt").read_text() == "1" * 1000 and (local / STAGE_JSON).is_file()
    assert not [p for p in store.fs.find(store.root) if TMP_PREFIX in p]
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # no local work directory left behind
    store.fs.rm(store.root, recursive=True)


def test_params_must_be_structured():
    with pytest.raises(TypeError, match="stage params must be"):
        SPEC.key(params={"obj": object()}, input_digests={})


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
