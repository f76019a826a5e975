"""The reproduce flow under a temporary Prefect server: cached stages, one changed row recomputes alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from prefect.testing.utilities import prefect_test_harness
from tasks.landmarks import EVALUATE, TRAIN
from tasks.prefect_stages import prefect_dir

from flows.reproduce import load_profile, reproduce
from tests.s3 import s3_keys, s3_server, s3_store  # noqa: F401 (fixtures)
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
def harness(tmp_path_factory):
    """A temporary Prefect server; persisted results and remote-store cache records in a temporary home."""
    from prefect.settings import PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    updates = {PREFECT_HOME: str(home), PREFECT_LOCAL_STORAGE_PATH: str(home / "storage")}
    with prefect_test_harness(server_startup_timeout=120), temporary_settings(updates=updates):
        yield home


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
    assert any((harness / "storage").iterdir())  # persisted task results stay in the test's Prefect home
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
    markdown = (folder / "report.md").read_text()
    assert markdown.count("## Table") == 9 and (folder / "report.html").is_file()
    for figure in ("ced", "hardest"):  # the CED of every row and Fig. 4.1's grid of the hardest faces
        png = folder / "figures" / f"{figure}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
        assert f"figures/{figure}.png" in markdown and f"figures/{figure}.png" in (folder / "report.html").read_text()
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
def test_training_reports_progress_artifacts(harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterType

    reproduce(store=str(tmp_path / "store"), profile_file=str(_write(tmp_path, 0.3)), experiments=["elt"])
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(type=ArtifactFilterType(any_=["progress"])))
    mine = [a for a in found if a.description == "train elt"]
    assert mine and mine[-1].data == 100.0


@pytest.mark.server
def test_pool_mode_launches_only_unfinished_rows(harness, tmp_path):
    store, profile = str(tmp_path / "store"), str(_write(tmp_path, 0.25))
    first = reproduce(store=store, profile_file=profile, experiments=["elt"])
    again = reproduce(store=store, profile_file=profile, experiments=["elt"], local=False, deployment="none/none")
    assert again == first  # complete rows are not sent to the pool
    missing = "deployment .none/none. is not on the Prefect server"
    with pytest.raises(ValueError, match=missing):  # an unfinished row needs the deployment
        reproduce(store=store, profile_file=profile, experiments=["two_step_l0"], local=False, deployment="none/none")


@pytest.mark.server
def test_demo_command_runs_the_demo_profile(harness, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import flows.reproduce
    from flows.cli import app

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "demo.toml").write_text(_write(tmp_path, 0.25).read_text())
    monkeypatch.setattr(flows.reproduce, "PROFILE_DIR", profiles)
    result = CliRunner().invoke(app, ["demo", "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "report.md" in result.output and "train elt" in result.output  # the progress bar's line
    assert len(list((tmp_path / "store" / TRAIN.name).glob("*/stage.json"))) == 2


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
    assert demo.synth.train == 360 and demo.train.model.size == 64 and demo.matrix.name == "study.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlr_typo = 1\n")
    with pytest.raises(ValueError, match="bad.toml: train: unknown key"):
        load_profile(bad)
    assert demo.wflw is None  # the synthetic twin
    assert demo.gan.detect.max_images == 80 and demo.gan.filter.rules.min_pixels == 150 * 150
    assert demo.gan.segment.network.width == 0.25 and demo.gan.detect.align.output_size == 1024
    thesis = load_profile(__import__("flows.reproduce").reproduce.PROFILE_DIR / "thesis.toml")
    assert thesis.wflw.dest == "data/WFLW" and not thesis.wflw.trust_first_download
    assert thesis.train.model.size == 128 and thesis.train.max_epochs == 1000 and thesis.train.patience == 30
    assert thesis.gan.segment.data == "lfw" and thesis.gan.segment.network.input_size == 224
    assert thesis.gan.detect.max_images == 0 and thesis.gan.segment.vgg16_weights is None
    assert demo.gan.project.generator == "random" and demo.gan.project.projector.discard_loss == 1.0
    assert thesis.gan.project.generator == "ffhq-1024" and thesis.gan.project.perceptual == "lpips-vgg"
    assert thesis.gan.project.projector.steps == 1000 and thesis.gan.weights_dir == "data/weights"
    assert demo.gan.review.policy == "auto" and thesis.gan.review.policy == "human"
    assert demo.gan.relight_backend == thesis.gan.relight_backend == "physical"
    bad.write_text('[data]\nsource = "ftp"\n')
    with pytest.raises(ValueError, match="bad.toml: data: source must be 'synth' or 'wflw'"):
        load_profile(bad)
    bad.write_text('[data]\nsource = "wflw"\ndest_typo = "x"\n')
    with pytest.raises(ValueError, match="bad.toml: data: unknown key"):
        load_profile(bad)


@pytest.mark.server
def test_a_wflw_profile_downloads_once_then_every_stage_is_cached(harness, tmp_path, synth_root):
    from tests.loopback import Loopback, tar_dir

    mirror = Loopback()
    for folder in ("WFLW_images", "WFLW_annotations"):
        mirror.files[f"{folder}.tar.gz"] = tar_dir(synth_root, folder)
    profile = _write(tmp_path, 0.25)
    data = f'source = "wflw"\ndest = "{tmp_path / "dl"}"\nmirror = "{mirror.url}"\ntrust_first_download = true\n'
    profile.write_text(profile.read_text() + "[data]\n" + data)  # a table at the end: top-level keys stay top-level
    store = str(tmp_path / "store")
    try:
        first = reproduce(store=store, profile_file=str(profile), experiments=["elt"])
        assert first["data"]["dataset"].stage == "download_wflw"
        fetched = len(mirror.requests)
        second = reproduce(store=store, profile_file=str(profile), experiments=["elt"], return_state=True)
        third = reproduce(store=store, profile_file=str(profile), experiments=["elt"], return_state=True)
    finally:
        mirror.close()
    assert second.result() == third.result() == first and len(mirror.requests) == fetched  # nothing fetched again
    # The first run could not know the download's key before downloading (nothing was pinned), so it left no
    # cache record: the second run's download task verifies the pinned archives and finds its output complete.
    states = _task_states(second)
    download = next(name for name in states if name.startswith("download_wflw"))
    assert states.pop(download) == "Completed" and set(states.values()) == {"Cached"}, states
    assert set(_task_states(third).values()) == {"Cached"}


@pytest.mark.server
def test_the_flow_runs_on_an_s3_store_and_reruns_from_its_cache(harness, s3_store, tmp_path):  # noqa: F811
    profile = str(_write(tmp_path, 0.25))
    first = reproduce(store=s3_store, profile_file=profile, experiments=["elt"])
    keys = s3_keys(s3_store)
    report = first["report"]["report"]
    assert f"store/report/{report.key}/report.md" in keys
    assert sum(k.endswith("stage.json") for k in keys) == 6  # synth, index, subsets, train, evaluate, report
    state = reproduce(store=s3_store, profile_file=profile, experiments=["elt"], return_state=True)
    assert state.result() == first and set(_task_states(state).values()) == {"Cached"}


GAN = """
[gan.detect]
max_images = 6
[gan.detect.align]
output_size = 256
transform_size = 1024
[gan.filter.rules]
min_pixels = 4000
[gan.segment.network]
input_size = 64
width = 0.25
fc_channels = 32
epochs = 2
batch_size = 4
[gan.project]
generator = "random"
perceptual = "random"
amp = false
[gan.project.projector]
steps = 8
w_avg_samples = 256
discard_step = 4
[gan]
relight_backend = "physical"
[gan.physical]
max_faces = 4
[gan.attributes]
estimator = "fit"
[gan.styleflow]
flow = "random"
[gan.styleflow.controls]
n_variants = 1
[gan.review]
policy = "auto"
lpips_threshold = 1e9
"""


def projected_discarded(refs):
    return refs["gan"]["projected"].output().manifest()["discarded"].astype(bool)


@pytest.mark.server
def test_the_gan_branch_runs_in_the_flow_and_reports_its_geometry(harness, tmp_path):
    pytest.importorskip("keras", reason="the segmenter needs the seg extra (tensorflow-cpu)")
    profile = _write(tmp_path, 0.25)
    profile.write_text(profile.read_text() + GAN)
    refs = reproduce(store=str(tmp_path / "store"), profile_file=str(profile), experiments=["elt", "elt_relit"])
    assert set(refs["gan"]) == {
        "aligned",
        "filtered",
        "segmenter",
        "masks",
        "pasted",
        "projected",
        "augmented",
        "reviewed",
        "attributes",
        "relit",
        "relit_pasted",
    }
    outcome = refs["gan"]["reviewed"].output().manifest()
    assert set(outcome["status"]) <= {"accepted", "discarded"} and (outcome["status"] == "accepted").any()
    assert refs["gan"]["attributes"].output().metadata()["inputs"]["reviewed"]["key"] == refs["gan"]["reviewed"].key
    relit_faces = refs["gan"]["augmented"].output().manifest()
    assert relit_faces["source_face_id"].nunique() == 4 and len(relit_faces) == 12  # 3 variants each
    trained = refs["elt_relit"]["trained"].output().metadata()
    assert trained["inputs"]["augmented"]["key"] == refs["gan"]["augmented"].key
    assert trained["info"]["augmented_faces"] > 0
    assert "augmented" not in refs["elt"]["trained"].output().metadata()["inputs"]
    kept = (~projected_discarded(refs)).sum()
    assert len(refs["gan"]["relit_pasted"].output().manifest()) == len(refs["gan"]["attributes"].output().manifest())
    assert len(refs["gan"]["attributes"].output().manifest()) == kept
    kept = refs["gan"]["filtered"].output().manifest()
    assert len(refs["gan"]["pasted"].output().manifest()) == len(kept) >= 1
    projected = refs["gan"]["projected"].output()
    assert list(projected.manifest()["detection_id"]) == list(kept["detection_id"])
    assert projected.metadata()["inputs"]["filtered"]["key"] == refs["gan"]["filtered"].key
    folder = refs["report"]["report"].output().local_dir()
    markdown = (folder / "report.md").read_text()
    assert "## GAN branch: geometry" in markdown and "kept by the filter" in markdown
    assert "## GAN branch: projection" in markdown and "the projected pictures are not meaningful" in markdown
    assert "## GAN branch: review" in markdown and "Policy `auto`" in markdown
    assert "## GAN branch: StyleFlow relighting" in markdown and "relit pictures are not meaningful" in markdown
    assert "## GAN branch: relighting" in markdown and "physical" in markdown
    for figure in ("alignment", "paste", "projection", "relight"):
        assert (folder / "figures" / f"{figure}.png").stat().st_size > 5_000 and f"figures/{figure}.png" in markdown
