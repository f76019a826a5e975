"""The experiment matrix: the study's rows as data, merged into a base config, with clear errors."""

from __future__ import annotations

import pytest

from elt_study.claims import load_claims
from elt_study.experiments import MATRIX_DIR, ExperimentRow, load_matrix, row_config, seeded_configs, select_rows
from landmark_core.config import load_config
from landmark_core.train_config import TrainConfig

STUDY = MATRIX_DIR / "study.toml"


def _study_rows():
    """The matrix's rows without the future-work rows (those are checked in test_future_work_rows...)."""
    return [r for r in load_matrix(STUDY) if not r.future_work]


def test_study_matrix_holds_every_table_4_1_row_and_the_lighting_rows():
    rows = {r.name: row_config(base=TrainConfig(), row=r) for r in _study_rows()}
    table41 = [r for r in load_matrix(STUDY) if "4.1" in r.tables]
    assert len(table41) == 10
    assert rows["baseline"].augment.views == 1 and rows["baseline"].loss.elt_lambda == 0
    assert rows["two_step_l0"].augment.views == 2 and rows["two_step_l0"].loss.elt_lambda == 0
    rot = sorted(c.loss.elt_lambda for n, c in rows.items() if n.startswith("rot_"))
    assert rot == [0.10, 0.20, 0.25, 0.50] and all(rows[n].augment.r1 == 0.05 for n in rows if n.startswith("rot_"))
    rt = sorted((c.loss.elt_lambda, c.augment.r2) for n, c in rows.items() if n.startswith("rt_") and "relit" not in n)
    assert rt == [(0.20, 0.05), (0.25, 0.05), (0.25, 0.10), (0.30, 0.05)]
    lighting = {r.name: r.relit for r in load_matrix(STUDY) if "4.5" in r.tables}
    assert lighting == {
        "baseline": "",
        "rt_l0.25_r0.05": "",
        "baseline_relit": "styleflow",  # the study's method
        "rt_l0.25_r0.05_relit": "styleflow",
        "baseline_relit_physical": "physical",  # beyond the study
        "rt_l0.25_r0.05_relit_physical": "physical",
    }
    beyond = sorted(r.name for r in _study_rows() if r.beyond_study)
    assert beyond == ["baseline_relit_physical", "rt_l0.25_r0.05_relit_physical"]  # labelled so in the report


def test_rows_override_a_profile_base_and_keep_the_rest():
    base = load_config(TrainConfig, MATRIX_DIR.parent / "configs" / "demo_elt.toml")
    row = ExperimentRow(name="x", overrides={"loss": {"elt_lambda": 0.1}, "train": {"seed": 4}})
    config = row_config(base=base, row=row)
    assert config.loss.elt_lambda == 0.1 and config.seed == 4
    assert config.model == base.model and config.augment == base.augment


def test_a_user_row_needs_no_code_and_errors_name_file_row_and_key(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[[row]]\nname = "mine"\nloss = { elt_lambda = 0.4 }\n')
    (row,) = load_matrix(path)
    assert row_config(base=TrainConfig(), row=row).loss.elt_lambda == 0.4
    path.write_text('[[row]]\nname = "bad"\nloss = { elt_lamda = 0.4 }\n')
    with pytest.raises(ValueError, match=r"mine.toml: experiment row 'bad': .*elt_lamda"):
        load_matrix(path)
    path.write_text('[[row]]\nname = "a"\n[[row]]\nname = "a"\n')
    with pytest.raises(ValueError, match="duplicate name 'a'"):
        load_matrix(path)
    path.write_text('[[row]]\nname = "a"\nlamda = 1\n')
    with pytest.raises(ValueError, match=r"row 1: .*unknown \['lamda'\]"):
        load_matrix(path)
    path.write_text("")
    with pytest.raises(ValueError, match="no \\[\\[row\\]\\]"):
        load_matrix(path)


def test_select_rows_keeps_matrix_order_and_rejects_unknown_names():
    rows = load_matrix(STUDY)
    assert [r.name for r in select_rows(rows, ["rot_l0.25", "baseline"])] == ["baseline", "rot_l0.25"]
    assert select_rows(rows, None) == rows
    with pytest.raises(ValueError, match="unknown experiment"):
        select_rows(rows, ["nope"])


def test_every_row_carries_the_study_wording_and_its_control():
    rows = {r.name: r for r in _study_rows()}
    assert rows["rt_l0.25_r0.05"].label == "λelt = 0.25, r1 = 0, r2 = 0.05"
    assert rows["rt_l0.25_r0.05"].lighting_label == "ELT" and rows["baseline_relit"].label == "Baseline w/ lighting"
    elt = [n for n in rows if n.startswith(("rot_", "rt_")) and "relit" not in n]
    assert len(elt) == 8 and all(rows[n].control == "two_step_l0" for n in elt)
    others = [n for n in rows if n not in elt and n != "baseline"]
    assert all(rows[n].control == "baseline" for n in others) and rows["baseline"].control == ""
    assert all(r.label for r in rows.values())


def test_a_control_must_be_a_matrix_row(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[[row]]\nname = "a"\ncontrol = "nope"\n')
    with pytest.raises(ValueError, match=r"control names an unknown row: a -> nope"):
        load_matrix(path)


def test_each_seed_is_its_own_run_of_the_row():
    row = ExperimentRow(name="x", overrides={"loss": {"elt_lambda": 0.1}})
    one = seeded_configs(base=TrainConfig(), row=row, seeds=(3,))
    assert list(one) == ["x"] and one["x"].seed == 3
    two = seeded_configs(base=TrainConfig(), row=row, seeds=(0, 1))
    assert list(two) == ["x-seed0", "x-seed1"] and [c.seed for c in two.values()] == [0, 1]
    assert two["x-seed0"].loss == two["x-seed1"].loss  # nothing else changes


def test_the_claims_file_names_matrix_rows_and_errors_are_one_line(tmp_path):
    names = [r.name for r in load_matrix(STUDY)]
    claims = load_claims(MATRIX_DIR / "claims.toml", rows=names)
    assert len(claims) >= 6 and {c.direction for c in claims} == {"lower", "higher"}
    assert any(c.row == "rt_l0.25_r0.05" and c.than == "baseline" and c.subset == "full" for c in claims)
    path = tmp_path / "claims.toml"
    base = 'id = "x"\ntext = "t"\nrow = "baseline"\nthan = "two_step_l0"\nsubset = "full"\ndirection = "lower"\n'
    path.write_text("[[claim]]\n" + base.replace('"baseline"', '"basline"'))
    with pytest.raises(ValueError, match=r"claim 1: row = 'basline': not a matrix row"):
        load_claims(path, rows=names)
    path.write_text("[[claim]]\n" + base.replace('"lower"', '"smaller"'))
    with pytest.raises(ValueError, match=r"claim 1: direction = 'smaller'"):
        load_claims(path, rows=names)
    path.write_text("[[claim]]\n" + base + "[[claim]]\n" + base)
    with pytest.raises(ValueError, match=r"claim 2: duplicate id 'x'"):
        load_claims(path, rows=names)


def test_future_work_rows_are_beyond_the_study_in_no_table_and_each_hypothesis_names_them():
    rows = load_matrix(STUDY)
    future = {r.name: r for r in rows if r.future_work}
    assert all(r.beyond_study and not r.tables and r.control for r in future.values())
    configs = {name: row_config(base=TrainConfig(), row=r) for name, r in future.items()}
    semi = {n: c.labelled_fraction for n, c in configs.items() if n.startswith("semi_")}
    assert semi == {
        f"semi_l{f}_{kind}": int(f) / 100 for f in ("10", "25", "50") for kind in ("sup", "sup_steps", "elt")
    }
    for fraction in ("10", "25", "50"):  # each pair differs in the ELT term (and so in the unlabelled faces) only
        sup, elt = configs[f"semi_l{fraction}_sup"], configs[f"semi_l{fraction}_elt"]
        assert not sup.uses_unlabelled and elt.uses_unlabelled and sup.augment == elt.augment
        assert future[f"semi_l{fraction}_elt"].control == f"semi_l{fraction}_sup"
        steps = configs[f"semi_l{fraction}_sup_steps"]  # the same, repeating the labelled faces
        assert steps.repeat_labelled and not sup.repeat_labelled and steps.loss == sup.loss
    assert not configs["rt_l0.25_r0.05_relit_unlabelled"].augmented_labelled
    assert future["rt_l0.25_r0.05_relit_unlabelled"].relit == "styleflow"
    assert future["rt_l0.25_r0.05_edited"].relit == "styleflow_edit"
    assert configs["elt_copies3_first"].augment.views == 3 and configs["elt_copies3_mean"].loss.elt_reference == "mean"
    hypotheses = load_claims(MATRIX_DIR / "future_work.toml", rows=[r.name for r in rows], table="hypothesis")
    controls = {f"semi_l{f}_{kind}" for f in ("10", "25", "50") for kind in ("sup", "sup_steps")}
    assert {h.row for h in hypotheses} == set(future) - controls
    assert {h.than for h in hypotheses} >= controls
    assert len({h.id for h in hypotheses}) == len(hypotheses) == 13


def test_a_future_work_row_in_a_study_table_is_one_line(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[[row]]\nname = "a"\nfuture_work = "x"\ntables = ["4.1"]\nbeyond_study = true\n')
    with pytest.raises(ValueError, match=r"row 1 \(a\): a future_work row needs beyond_study = true and no tables"):
        load_matrix(path)


def test_future_work_selects_every_future_row_with_its_control():
    rows = load_matrix(STUDY)
    picked = [r.name for r in select_rows(rows, ["future_work"])]
    assert "rt_l0.25_r0.05" in picked and "semi_l25_sup" in picked and "baseline" not in picked
    assert all(r.name in picked for r in rows if r.future_work)
