"""Which rows a profile trains: the future-work rows in demo-full, left to --experiments in the thesis profile."""

from __future__ import annotations

import pytest

from elt_study.run_profile import PROFILE_DIR, load_profile, plan_rows
from landmark_core.config import ConfigError
from tests.flows.tiny_profile import write_profile

FUTURE = {
    *(f"semi_l{f}_{kind}" for f in ("10", "25", "50") for kind in ("sup", "sup_steps", "elt")),
    "rt_l0.25_r0.05_relit_unlabelled",
    "elt_photometric",
    "elt_occlusion",
    "elt_copies3_first",
    "elt_copies3_mean",
    "rt_l0.25_r0.05_edited",
}


def test_demo_full_trains_every_future_row_with_two_seeds_and_its_control_too():
    prof = load_profile(PROFILE_DIR / "demo-full.toml")
    plan = plan_rows(prof, None)
    names = {r.name for r in plan.rows}
    assert names >= FUTURE and len(plan.hypotheses) == 13
    for row in (r for r in plan.rows if r.name in FUTURE):
        assert prof.seeds_for(row.name) == (0, 1) and prof.seeds_for(row.control) == (0, 1), row.name
    for hypothesis in plan.hypotheses:  # every hypothesis compares two rows that train, with two seeds each
        assert {hypothesis.row, hypothesis.than} <= names and len(prof.seeds_for(hypothesis.than)) == 2
    assert prof.gan.styleflow_edit.attribute == "beard" and prof.gan.styleflow_edit.flow == "twin"


def test_the_demo_and_the_thesis_leave_the_future_rows_to_a_selection():
    demo = plan_rows(load_profile(PROFILE_DIR / "demo.toml"), None)
    assert not FUTURE & {r.name for r in demo.rows}
    thesis = load_profile(PROFILE_DIR / "thesis.toml")
    assert not thesis.future_work and not FUTURE & {r.name for r in plan_rows(thesis, None).rows}
    picked = {r.name for r in plan_rows(thesis, ["future_work"]).rows}
    assert picked >= FUTURE and {"rt_l0.25_r0.05", "rt_l0.25_r0.05_relit", "two_step_l0"} <= picked
    assert "baseline" not in picked  # only the future rows and what their controls and hypotheses compare
    assert {r.name for r in plan_rows(thesis, ["elt_occlusion"]).rows} == {"elt_occlusion"}


def test_a_profile_with_its_own_matrix_judges_no_study_hypotheses_unless_it_names_a_file(tmp_path):
    prof = load_profile(write_profile(tmp_path, 0.25))
    assert prof.hypotheses is None and plan_rows(prof, None).hypotheses == ()
    prof = load_profile(write_profile(tmp_path, 0.25, future=True))
    assert [h.id for h in plan_rows(prof, None).hypotheses] == ["semi_no_worse", "edits_help"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('future_work = "yes"', "future_work = 'yes': expected true or false"),
        ('hypotheses = "nope.toml"', "hypotheses = 'nope.toml': no such file in "),
    ],
)
def test_profile_mistakes_about_the_future_rows_are_one_line(tmp_path, line, message):
    profile = write_profile(tmp_path, 0.25)
    profile.write_text(line + "\n" + profile.read_text())
    with pytest.raises(ConfigError, match=message) as err:
        load_profile(profile)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('device = "gpu"', "device = 'gpu': expected auto, cpu, cuda or cuda:<n>"),
        ("pool_wait_s = 0", "pool_wait_s = 0: expected a positive number of seconds"),
        ("pool_wait_s = true", "pool_wait_s = True: expected a positive number of seconds"),
        ("seeds = [1, true]", "seeds = [1, True]: expected a list of distinct non-negative integers"),
        ("row_seeds = 3", "row_seeds = 3: input should be an object"),
        ("data = 3", "data = 3: input should be an object"),
        ('[data]\nsource = "wflw"\nsha256 = 3', "data.sha256 = 3: expected a table of archive name = hex digest"),
        ("rows = [1]", "rows = [1]: expected a list of matrix row names"),
        ("pool_wait = 3", "unknown key 'pool_wait'"),
        ('[synth]\nshape = "wflw"\np_two_faces = 0.5', "synth.p_two_faces = 0.5: a setting of the 'twin' shape"),
        ('[synth]\nshape = "wflw"\nmax_face_width = 260.0', "synth.max_face_width = 260.0: a setting of the 'twin'"),
        ('[synth]\nshape = "wflw"\ntest = 200', "synth.test = 200: a setting of the 'twin' shape; shape = 'wflw' is"),
        ("shard_faces = -1\nfuture_work = 1", "future_work = 1: expected true or false; shard_faces = -1: expected"),
    ],
)
def test_top_level_mistakes_read_like_the_sections_mistakes(tmp_path, text, message):
    path = tmp_path / "profile.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)


def test_the_top_level_keys_keep_their_meaning(tmp_path):
    path = tmp_path / "profile.toml"
    path.write_text("pool_wait_s = 3\nfuture_work = false\n[row_seeds]\nbaseline = [2, 1]\n[train]\nseed = 4\n")
    prof = load_profile(path)
    assert (prof.pool_wait_s, prof.future_work, prof.device, prof.shard_faces) == (3.0, False, "auto", 0)
    assert prof.seeds == (4,) and prof.row_seeds == (("baseline", (2, 1)),) and prof.wflw is None
    assert prof.matrix == PROFILE_DIR.parent / "experiments" / "study.toml" and prof.hypotheses is not None


def test_a_hypothesis_about_an_unknown_row_is_one_line(tmp_path):
    profile = write_profile(tmp_path, 0.25, future=True)
    hypotheses = tmp_path / "hypotheses.toml"
    hypotheses.write_text(hypotheses.read_text().replace('row = "semi_elt"', 'row = "semi"'))
    with pytest.raises(ConfigError, match=r"hypotheses.toml: hypothesis 1: row = 'semi': not a matrix row"):
        plan_rows(load_profile(profile), None)
