"""The reproduce flow under a temporary Prefect server: cached stages, one changed row recomputes alone, two
stores get the same keys, and the GAN branch runs inside the graph."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from elt_study.run_profile import PROFILE_DIR, load_profile
from flows.reproduce import reproduce
from kit.prefect_stage import records_dir
from landmark_core.subsets import frontal_sensitivity
from tests.flows.tiny_profile import write_profile
from tests.s3 import s3_keys, s3_server, s3_store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.server


def _task_states(flow_state, *, timeout: float = 60.0) -> dict[str, str]:
    """Task run name -> final state name of one flow run, read back from the Prefect API.

    Task runs reach the server through its event pipeline, after the flow returns: read until the set is
    non-empty, every state is final and two reads a second apart agree (a loaded machine delays the events).
    """
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id]))
    deadline, last = time.monotonic() + timeout, None
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=flow_filter)
            states = {run.name: run.state.name for run in runs if run.state is not None}
            settled = states and all(run.state is not None and run.state.is_final() for run in runs)
            if (settled and states == last) or time.monotonic() > deadline:
                return states
            last = states
            time.sleep(1.0)


def _stage_json(store: Path, stage: str) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in (store / stage).glob("*/stage.json")}


def _outputs(store: Path) -> set[tuple[str, str]]:
    """(stage, key) of every complete output in a local store."""
    return {(p.parent.parent.name, p.parent.name) for p in store.glob("*/*/stage.json")}


def test_rerun_is_cached_and_a_changed_row_recomputes_only_itself(prefect_harness, tmp_path):
    store = tmp_path / "store"
    first = reproduce(store=str(store), profile_file=str(write_profile(tmp_path, 0.25)))
    assert set(first.rows) == {"two_step_l0", "elt"} and first.gan is None  # the relit row waits for relit faces
    trained, evaluated = _stage_json(store, "train_landmarks"), _stage_json(store, "evaluate_landmarks")
    assert len(trained) == len(evaluated) == 2
    state = reproduce(store=str(store), profile_file=str(write_profile(tmp_path, 0.25)), return_state=True)
    assert state.result() == first
    states = _task_states(state)
    assert len(states) == 8 and set(states.values()) == {"Cached"}, states
    assert _stage_json(store, "train_landmarks") == trained and _stage_json(store, "evaluate_landmarks") == evaluated
    assert any(records_dir(str(store)).iterdir())
    assert not [p for p in prefect_harness.rglob("train_landmarks-*")]  # no stage record in the Prefect home
    state = reproduce(store=str(store), profile_file=str(write_profile(tmp_path, 0.5)), return_state=True)
    changed = state.result()
    recomputed = sorted(name for name, s in _task_states(state).items() if s != "Cached")
    recomputed = [name.split("-")[0] if name.startswith("report-") else name for name in recomputed]  # report-<n>
    assert recomputed == ["evaluate_landmarks-elt", "report", "train_landmarks-elt"]
    assert changed.rows["two_step_l0"] == first.rows["two_step_l0"] and changed.data == first.data
    assert changed.rows["elt"]["elt"].trained.key != first.rows["elt"]["elt"].trained.key
    after = _stage_json(store, "train_landmarks")
    assert len(after) == 3 and all(after[k] == v for k, v in trained.items())  # old outputs untouched
    meta = json.loads(after[changed.rows["elt"]["elt"].trained.key])
    assert meta["config"]["loss"]["elt_lambda"] == 0.5


def test_two_stores_get_the_same_key_for_every_stage(prefect_harness, tmp_path):
    profile = str(write_profile(tmp_path, 0.25))
    a = reproduce(store=str(tmp_path / "a"), profile_file=profile)
    b = reproduce(store=str(tmp_path / "b"), profile_file=profile)
    assert a.report.key == b.report.key and a.rows["elt"]["elt"].evaluated.key == b.rows["elt"]["elt"].evaluated.key
    assert _outputs(tmp_path / "a") == _outputs(tmp_path / "b") and len(_outputs(tmp_path / "a")) == 8


def test_a_deleted_output_is_recomputed_not_served_from_a_stale_record(prefect_harness, tmp_path):
    store = tmp_path / "store"
    profile = str(write_profile(tmp_path, 0.25))
    first = reproduce(store=str(store), profile_file=profile, experiments=["elt"])
    ref = first.rows["elt"]["elt"].evaluated
    shutil.rmtree(store / ref.stage / ref.key)
    again = reproduce(store=str(store), profile_file=profile, experiments=["elt"])
    assert again.rows["elt"]["elt"].evaluated == ref and ref.output().manifest() is not None


def test_report_holds_the_study_tables_of_the_evaluated_rows(prefect_harness, tmp_path):
    profile = write_profile(tmp_path, 0.25)
    profile.write_text(profile.read_text().replace("[synth]", "[row_seeds]\nelt = [0, 1]\n[synth]"))
    result = reproduce(store=str(tmp_path / "store"), profile_file=str(profile))
    assert list(result.rows["elt"]) == ["elt-seed0", "elt-seed1"] and list(result.rows["two_step_l0"]) == [
        "two_step_l0"
    ]
    report = result.report.output()
    folder = report.local_dir()
    cells = pd.read_csv(folder / "tables" / "table_4.1.csv")
    assert list(dict.fromkeys(cells["row"]))[-1] == "elt"  # the study's rows in its order, then ours it had not
    assert set(cells["subset"]) == {"full", "pose", "expression", "illumination", "makeup", "occlusion", "blur"}
    runs = [result.rows["elt"][name].evaluated.output().manifest() for name in ("elt-seed0", "elt-seed1")]
    full = [100 * r["nme"].mean() for r in runs]
    elt = cells.set_index(["row", "subset"]).loc[("elt", "full")]
    assert elt["ours"] == pytest.approx(np.mean(full), abs=1e-3) and elt["seeds"] == 2
    assert elt["std"] == pytest.approx(np.std(full, ddof=1), abs=1e-3) and np.isnan(elt["study"])  # not a study row
    baseline = cells.set_index(["row", "subset"]).loc[("baseline", "full")]  # the study's row, not run here
    assert baseline["study"] == 4.681 and np.isnan(baseline["ours"])
    assert len(report.manifest().dropna(subset=["study"])) == 400  # every published cell beside ours
    markdown = (folder / "report.md").read_text()
    assert markdown.count("## Table 4.") == 9 and markdown.index("## Claims") < markdown.index("## Table 4.1")
    assert "| λelt = 0.25 (`elt`) | " in markdown and "± " in markdown  # the row's wording, two seeds
    assert "The ELT row has a lower Full NME than the control |" in markdown
    verdicts = pd.read_csv(folder / "tables" / "claims.csv").set_index("id")["verdict"]
    assert verdicts["elt_beats_control"] in {"supported", "contradicted", "inconclusive"}
    assert verdicts["relit_worse"] == "not run"  # the relit row needs the GAN branch
    paired = pd.read_csv(folder / "tables" / "paired.csv")
    assert set(paired["row"]) == {"elt"} and set(paired["control"]) == {"two_step_l0"}
    assert "The data is the synthetic twin" in markdown and "| `elt-seed1` | `elt` | 1 | 1 |" in markdown
    test_faces = int((result.data.subsets.output().manifest()["split"] == "test").sum())
    assert f"| full | {test_faces} |" in markdown and "| frontal_illumination |" in markdown and "| 1042 |" in markdown
    rules = frontal_sensitivity(subsets=result.data.subsets.output().manifest())
    assert "### How the frontal faces depend on the rule" in markdown
    for rule, counts in rules.iterrows():  # every rule of the sensitivity table, with its counts
        assert f"| {rule} | {counts['frontal']} | {counts['frontal_illumination']} |" in markdown
    html = (folder / "report.html").read_text()
    for figure in ("ced", "hardest"):  # the CED of every row per subset and Fig. 4.1's grid of the hardest faces
        png = folder / "figures" / f"{figure}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
        assert f"figures/{figure}.png" in markdown and f"figures/{figure}.png" not in html  # embedded in the page
    assert html.count("data:image/png;base64,") == 2 and html.count("<h2>Table 4.") == 9
    assert "<h2>Claims</h2>" in html and "λelt = 0.25 (<code>elt</code>)" in html
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["eltrepro-report", "table-4-1"]))
        )
    assert {a.key for a in found} == {"eltrepro-report", "table-4-1"}
    artifact = next(str(a.data) for a in found if a.key == "eltrepro-report")
    assert "## Table 4.1" in artifact and artifact.count("data:image/jpeg;base64,") == 2  # figures the UI can show
    assert len(artifact) < 1_000_000  # an artifact travels in a server event, refused over 1.5 MB


def test_training_reports_progress_artifacts(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterType

    reproduce(store=str(tmp_path / "store"), profile_file=str(write_profile(tmp_path, 0.3)), experiments=["elt"])
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(type=ArtifactFilterType(any_=["progress"])))
    mine = [a for a in found if a.description == "train_landmarks-elt"]
    assert mine and mine[-1].data == 100.0


def test_pool_mode_launches_only_unfinished_rows(prefect_harness, tmp_path):
    store, profile = str(tmp_path / "store"), str(write_profile(tmp_path, 0.25))
    first = reproduce(store=store, profile_file=profile, experiments=["elt"])
    again = reproduce(store=store, profile_file=profile, experiments=["elt"], local=False, deployment="none/none")
    assert again == first  # complete rows are not sent to the pool
    missing = "deployment .none/none. is not on the Prefect server"
    with pytest.raises(ValueError, match=missing):  # an unfinished row needs the deployment
        reproduce(store=store, profile_file=profile, experiments=["two_step_l0"], local=False, deployment="none/none")


def test_demo_command_runs_the_demo_profile(prefect_harness, tmp_path, monkeypatch, capsys):
    import elt_study.run_profile
    from elt_cli.main import app

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "demo.toml").write_text(write_profile(tmp_path, 0.25).read_text())
    monkeypatch.setattr(elt_study.run_profile, "PROFILE_DIR", profiles)
    app(["demo", "--store", str(tmp_path / "store")], standalone_mode=False)
    output = capsys.readouterr().out
    assert "the report (also report.html):" in output and "train_landmarks-elt" in output  # the progress bar line
    assert len(list((tmp_path / "store" / "train_landmarks").glob("*/stage.json"))) == 2


def test_profiles_load_with_every_section_typed(tmp_path):
    demo = load_profile(PROFILE_DIR / "demo.toml")
    assert demo.synth.train == 360 and demo.train.model.size == 48 and demo.matrix.name == "study.toml"
    assert demo.wflw is None  # the synthetic twin
    assert demo.gan.detect.max_images == 80 and demo.gan.filter.min_pixels == 150 * 150
    assert demo.gan.segment_train.network.width == 0.25 and demo.gan.detect.align.output_size == 1024
    thesis = load_profile(PROFILE_DIR / "thesis.toml")
    assert thesis.wflw.dest == "data/WFLW" and not thesis.wflw.trust_first_download
    assert thesis.train.model.size == 128 and thesis.train.max_epochs == 1000 and thesis.train.patience == 30
    assert thesis.gan.segment_train.data == "lfw" and thesis.gan.segment_train.network.input_size == 224
    assert thesis.gan.detect.max_images == 0 and thesis.gan.segment_train.vgg16_weights.endswith("notop.h5")
    assert demo.gan.project.generator == "twin" and demo.gan.project.perceptual == "twin"
    assert (
        demo.gan.styleflow.flow == "twin" and demo.gan.styleflow.w_rows == (0, 6) and demo.gan.paste.relit == "change"
    )
    assert thesis.gan.project.generator == "ffhq-1024" and thesis.gan.project.perceptual == "lpips-vgg"
    assert thesis.gan.project.projector.steps == 1000 and thesis.gan.weights_dir == "data/weights"
    assert demo.gan.review.policy == "auto" and thesis.gan.review.policy == "human"
    assert demo.gan.styleflow_path and thesis.gan.styleflow_path  # the study's relighting in both profiles
    assert thesis.gan.styleflow.flow == "styleflow-large" and thesis.gan.attributes.estimator == "dpr"


def test_a_wflw_profile_downloads_once_then_every_stage_is_cached(prefect_harness, tmp_path, synth_root):
    from tests.loopback import Loopback, tar_dir

    mirror = Loopback()
    for folder in ("WFLW_images", "WFLW_annotations"):
        mirror.files[f"{folder}.tar.gz"] = tar_dir(synth_root, folder)
    profile = write_profile(tmp_path, 0.25)
    data = f'source = "wflw"\ndest = "{tmp_path / "dl"}"\nmirror = "{mirror.url}"\ntrust_first_download = true\n'
    profile.write_text(profile.read_text() + "[data]\n" + data)  # a table at the end: top-level keys stay top-level
    store = str(tmp_path / "store")
    try:
        first = reproduce(store=store, profile_file=str(profile), experiments=["elt"])
        assert first.data.dataset.stage == "download_wflw"
        fetched = len(mirror.requests)
        second = reproduce(store=store, profile_file=str(profile), experiments=["elt"], return_state=True)
    finally:
        mirror.close()
    assert second.result() == first and len(mirror.requests) == fetched  # pinned: verified, nothing fetched again
    states = _task_states(second)
    fetch = next(name for name in states if name.startswith("fetch_wflw"))
    assert states.pop(fetch) == "Completed" and set(states.values()) == {"Cached"}, states


def test_the_flow_runs_on_an_s3_store_and_reruns_from_its_cache(prefect_harness, s3_store, tmp_path):  # noqa: F811
    profile = str(write_profile(tmp_path, 0.25))
    first = reproduce(store=s3_store, profile_file=profile, experiments=["elt"])
    keys = s3_keys(s3_store)
    assert f"store/report/{first.report.key}/report.md" in keys
    assert sum(k.endswith("stage.json") for k in keys) == 6  # synth, index, subsets, train, evaluate, report
    state = reproduce(store=s3_store, profile_file=profile, experiments=["elt"], return_state=True)
    assert state.result() == first and set(_task_states(state).values()) == {"Cached"}


@pytest.mark.slow
def test_the_gan_branch_runs_in_the_flow_and_two_stores_get_the_same_keys(prefect_harness, tmp_path):
    pytest.importorskip("keras", reason="the segmenter needs the seg extra (tensorflow-cpu)")
    profile = str(write_profile(tmp_path, 0.25, gan=True, future=True))
    rows = ["elt", "elt_relit", "semi_elt", "elt_edited"]
    result = reproduce(store=str(tmp_path / "store"), profile_file=profile, experiments=rows)
    gan = result.gan
    assert None not in vars(gan).values()  # every stage ran: geometry, physical, StyleFlow path, attribute edit
    outcome = gan.reviewed.output().manifest()
    assert set(outcome["status"]) <= {"accepted", "discarded"} and (outcome["status"] == "accepted").any()
    assert gan.attributes.output().metadata()["inputs"]["reviewed"]["key"] == gan.reviewed.key
    relit_faces = gan.relit_physical.output().manifest()
    assert relit_faces["source_face_id"].nunique() == 4 and len(relit_faces) == 12  # 3 variants each
    trained = result.rows["elt_relit"]["elt_relit"].trained.output().metadata()  # a row relit with the physical backend
    assert trained["inputs"]["augmented"]["key"] == gan.relit_physical.key and trained["info"]["augmented_faces"] > 0
    assert "augmented" not in result.rows["elt"]["elt"].trained.output().metadata()["inputs"]
    kept = (~gan.projected.output().manifest()["discarded"].astype(bool)).sum()
    assert len(gan.relit_pasted.output().manifest()) == len(gan.attributes.output().manifest()) == kept
    filtered = gan.filtered.output().manifest()
    assert len(gan.pasted.output().manifest()) == len(filtered) >= 1
    projected = gan.projected.output()
    assert list(projected.manifest()["detection_id"]) == list(filtered["detection_id"])
    assert projected.metadata()["inputs"]["filtered"]["key"] == gan.filtered.key
    markdown = (result.report.output().local_dir() / "report.md").read_text()
    assert "## GAN branch: geometry" in markdown and "kept by the filter" in markdown
    assert "## GAN branch: projection" in markdown and "the projected pictures are not meaningful" in markdown
    assert "## GAN branch: review" in markdown and "Policy `auto`" in markdown
    assert "## GAN branch: StyleFlow relighting" in markdown and "relit pictures are not meaningful" in markdown
    assert "## GAN branch: relighting" in markdown and "physical" in markdown
    for figure in ("alignment", "paste", "projection", "relight_physical", "relight_styleflow"):
        assert f"figures/{figure}.png" in markdown
    edited = gan.edited.output().manifest()  # a beyond-study row trains on another StyleFlow attribute's edits
    assert set(edited["attribute"]) == {"glasses"} and len(gan.edited_pasted.output().manifest()) == len(edited)
    trained = result.rows["elt_edited"]["elt_edited"].trained.output().metadata()
    assert trained["inputs"]["augmented"]["key"] == gan.edited_pasted.key and trained["info"]["augmented_faces"] > 0
    semi = result.rows["semi_elt"]["semi_elt"].trained.output().metadata()["info"]
    assert semi["unlabelled_faces"] > 0 and semi["train_faces"] > semi["unlabelled_faces"]
    future = markdown[markdown.index("# The study's future work, tested") : markdown.index("# Beyond the study")]
    assert markdown.index("## Table 4.9") < markdown.index("# The study's future work, tested")
    assert "## Hypotheses" in future and "| Half the labels with ELT is worse than all labels |" in future
    for name in ("semi_elt", "elt_edited"):  # each row against its control, with its interval
        line = next(x for x in future.splitlines() if f"(`{name}`)" in x)
        assert "| `elt` |" in line and " [" in line
    cells = pd.read_csv(result.report.output().local_dir() / "tables" / "table_4.1.csv")
    assert not {"semi_elt", "elt_edited"} & set(cells["row"])  # the study's tables stay the study's
    tested = pd.read_csv(result.report.output().local_dir() / "tables" / "hypotheses.csv").set_index("id")
    assert set(tested["verdict"]) <= {"supported", "contradicted", "inconclusive"} and len(tested) == 2
    other = reproduce(store=str(tmp_path / "other"), profile_file=profile, experiments=rows)
    assert _outputs(tmp_path / "store") == _outputs(tmp_path / "other")  # every stage, the GAN branch's too
    assert other.report.key == result.report.key
