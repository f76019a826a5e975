"""The reproduce flow under a temporary Prefect server: cached stages, one changed row recomputes alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.reproduce import load_profile, reproduce
from tasks.landmarks import EVALUATE, TRAIN
from tasks.prefect_stages import prefect_dir
from tests.tiny import tiny_model_toml

PROFILE = """
device = "cpu"
matrix = "{matrix}"
[synth]
train = 8
test = 6
seed = 3
[train]
batch_size = 4
max_epochs = 1
val_fraction = 0.2
"""
PROFILE += tiny_model_toml("train.model") + "[train.augment]\nsize = 32\n"
MATRIX = """
[[row]]
name = "two_step_l0"
tables = ["4.1"]
augment = {{ views = 2, r1 = 0.05 }}
loss = {{ elt_lambda = 0.0 }}
[[row]]
name = "elt"
tables = ["4.1", "4.5"]
augment = {{ views = 2, r1 = 0.0, r2 = 0.05 }}
loss = {{ elt_lambda = {lam} }}
[[row]]
name = "elt_relit"
relit = true
"""


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _write(tmp_path, lam: float):
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(MATRIX.format(lam=lam))
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE.format(matrix=matrix))
    return profile


def _task_states(flow_state) -> dict[str, str]:
    """Task run name -> final state name of one flow run, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_filter)
    return {run.name: run.state.name for run in runs}


def _stage_json(store, stage):
    return {p.parent.name: p.read_bytes() for p in (store / stage).glob("*/stage.json")}


@pytest.mark.server
def test_rerun_is_cached_and_a_changed_row_recomputes_only_itself(harness, tmp_path):
    store = tmp_path / "store"
    first = reproduce(store=str(store), profile_file=str(_write(tmp_path, 0.25)))
    assert set(first) == {"data", "two_step_l0", "elt", "report"}  # the relit row waits for the GAN branch
    trained, evaluated = _stage_json(store, TRAIN.name), _stage_json(store, EVALUATE.name)
    assert len(trained) == len(evaluated) == 2
    state = reproduce(store=str(store), profile_file=str(_write(tmp_path, 0.25)), return_state=True)
    again = state.result()
    assert again == first
    states = _task_states(state)
    assert len(states) == 8 and set(states.values()) == {"Cached"}, states
    assert _stage_json(store, TRAIN.name) == trained and _stage_json(store, EVALUATE.name) == evaluated
    assert any((prefect_dir(str(store)) / "cache").iterdir())
    state = reproduce(store=str(store), profile_file=str(_write(tmp_path, 0.5)), return_state=True)
    changed = state.result()
    recomputed = sorted(name for name, s in _task_states(state).items() if s != "Cached")
    assert sorted(n.split("-")[0] if n.startswith("report") else n for n in recomputed) == [
        "evaluate-elt",
        "report",
        "train-elt",
    ]
    assert changed["two_step_l0"] == first["two_step_l0"] and changed["data"] == first["data"]
    assert changed["elt"]["trained"].key != first["elt"]["trained"].key
    after = _stage_json(store, TRAIN.name)
    assert len(after) == 3 and all(after[k] == v for k, v in trained.items())  # old outputs untouched
    meta = json.loads(after[changed["elt"]["trained"].key])
    assert meta["params"]["config"]["loss"]["elt_lambda"] == 0.5


@pytest.mark.server
def test_a_deleted_output_is_recomputed_not_served_from_a_stale_record(harness, tmp_path):
    import shutil

    store = tmp_path / "store"
    profile = str(_write(tmp_path, 0.25))
    first = reproduce(store=str(store), profile_file=profile, experiments=["elt"])
    ref = first["elt"]["evaluated"]
    shutil.rmtree(store / ref.stage / ref.key)
    again = reproduce(store=str(store), profile_file=profile, experiments=["elt"])
    assert again["elt"]["evaluated"] == ref and ref.output().manifest() is not None


@pytest.mark.server
def test_report_holds_the_study_tables_of_the_evaluated_rows(harness, tmp_path):
    store = tmp_path / "store"
    refs = reproduce(store=str(store), profile_file=str(_write(tmp_path, 0.25)))
    report = refs["report"]["report"].output()
    folder = report.local_dir()
    table = pd.read_csv(folder / "tables" / "table_4.1.csv", index_col="row")
    assert list(table.index) == ["two_step_l0", "elt"]
    assert list(table.columns) == ["full", "pose", "expression", "illumination", "makeup", "occlusion", "blur"]
    per_face = refs["elt"]["evaluated"].output().manifest()
    assert table.loc["elt", "full"] == pytest.approx(100 * per_face["nme"].mean(), abs=1e-3)
    assert list(pd.read_csv(folder / "tables" / "table_4.5.csv", index_col="row").index) == ["elt"]
    assert (folder / "report.md").read_text().count("## Table") == 9 and (folder / "report.html").is_file()
    long = report.manifest()
    assert set(long["table"]) == {f"4.{i}" for i in range(1, 10)}
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["eltrepro-report", "table-4-1"]))
        )
    assert {a.key for a in found} == {"eltrepro-report", "table-4-1"}
    assert any("## Table 4.1" in str(a.data) for a in found if a.key == "eltrepro-report")


@pytest.mark.server
def test_run_command_prints_the_report_path(harness, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    store = tmp_path / "store"
    args = ["run", "--profile", str(_write(tmp_path, 0.25)), "--store", str(store), "--experiments", "elt"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "report.md" in result.output and list(store.glob("report/*/report.md"))
    args = ["run", "--profile", str(_write(tmp_path, 0.25)), "--store", str(tmp_path / "s2"), "--experiments", "nope"]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "unknown experiment" in bad.output
    assert not (tmp_path / "s2" / "synth_wflw").exists()  # refused before any stage ran


def test_profiles_load_and_errors_name_the_file(tmp_path):
    demo = load_profile(__import__("flows.reproduce").reproduce.PROFILE_DIR / "demo.toml")
    assert demo.synth.train == 600 and demo.train.model.size == 64 and demo.matrix.name == "study.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlr_typo = 1\n")
    with pytest.raises(ValueError, match="bad.toml: train: unknown key"):
        load_profile(bad)
