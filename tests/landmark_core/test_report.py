"""The study's tables in the study's layout: every published cell beside ours, seeds summarised, pairs compared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landmark_core.report import (
    ALL_SUBSETS,
    STUDY_TABLES,
    cell_text,
    face_errors,
    paired_intervals,
    row_summary,
    study_cells,
    study_table_markdown,
)
from landmark_core.study_values import load_study_values


def per_face(nme: np.ndarray, *, flags: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """An evaluation manifest: faces f0.. with the given NME (fractions); every face in every subset by default."""
    n = len(nme)
    table = pd.DataFrame({"face_id": [f"f{i}" for i in range(n)], "nme": nme, "nme_inter_pupil": nme})
    for subset in ALL_SUBSETS:
        table[f"in_{subset}"] = (flags or {}).get(subset, np.ones(n, bool))
    return table


def test_every_published_cell_appears_in_the_study_order_and_extra_rows_follow():
    study = load_study_values()
    rng = np.random.default_rng(0)
    runs = {"rt_l0.25_r0.05": [per_face(rng.uniform(0.03, 0.06, 50))], "baseline": [per_face(np.full(50, 0.05))]}
    runs["physical"] = [per_face(np.full(50, 0.04))]  # a row the study did not have
    tags = {"baseline": ("4.1", "4.5"), "two_step_l0": ("4.1",), "rt_l0.25_r0.05": ("4.1", "4.5"), "physical": ("4.5",)}
    cells = study_cells(summary=row_summary(per_seed=runs), tags=tags, study=study)
    published = cells.dropna(subset=["study"])
    assert len(published) == len(study) == 400  # all 400 cells, each once
    assert set(zip(published["table"], published["row"], published["subset"], published["metric"], strict=True)) == set(
        study
    )
    t41 = cells[cells["table"] == "4.1"]
    assert list(dict.fromkeys(t41["row"]))[:3] == ["baseline", "two_step_l0", "rot_l0.50"]  # the study's order
    assert len(dict.fromkeys(t41["row"])) == 10 and set(t41["subset"]) == set(STUDY_TABLES["4.1"].subsets)
    base = t41.set_index(["row", "subset"]).loc[("baseline", "full")]
    assert np.isclose(base["ours"], 5.0) and base["study"] == 4.681 and np.isclose(base["delta"], 5.0 - 4.681)
    assert np.isnan(t41.set_index(["row", "subset"]).loc[("two_step_l0", "full"), "ours"])  # not run: theirs only
    t49 = cells[cells["table"] == "4.9"]
    assert set(t49["subset"]) == {"frontal", "frontal_illumination"} and set(t49["metric"]) == {"nme"}
    assert list(dict.fromkeys(cells[cells["table"] == "4.5"]["row"])) == [
        "baseline",
        "baseline_relit",
        "rt_l0.25_r0.05",
        "rt_l0.25_r0.05_relit",
        "physical",  # beyond the study: after the study's four, in the order Baseline, w/ lighting, ELT, w/ lighting
    ]
    assert "physical" not in set(t41["row"])  # tagged for the lighting tables only


def test_seeds_give_a_mean_and_a_sample_std_and_one_seed_no_std():
    runs = {"a": [per_face(np.full(10, 0.04)), per_face(np.full(10, 0.06))], "b": [per_face(np.full(10, 0.05))]}
    summary = row_summary(per_seed=runs).set_index(["row", "subset", "metric"])
    assert np.isclose(summary.loc[("a", "full", "nme"), "mean"], 5.0)
    assert np.isclose(summary.loc[("a", "full", "nme"), "std"], np.std([4.0, 6.0], ddof=1))
    assert summary.loc[("a", "full", "nme"), "seeds"] == 2 and np.isnan(summary.loc[("b", "full", "nme"), "std"])
    assert cell_text(5.0, np.std([4.0, 6.0], ddof=1), 4.681) == "5.000 ± 1.414 / 4.681 (+0.319)"
    assert cell_text(5.0, np.nan, np.nan) == "5.000 / —" and cell_text(np.nan, np.nan, 4.6) == "— / 4.600"


def test_a_table_renders_in_the_study_layout_with_the_study_wording():
    runs = {"baseline": [per_face(np.full(10, 0.05))]}
    cells = study_cells(summary=row_summary(per_seed=runs), tags={"baseline": ("4.1",)}, study=load_study_values())
    lines = study_table_markdown(cells=cells, table_id="4.1", labels={"baseline": "Baseline (`baseline`)"})
    assert lines[0] == "| row | full | pose | expression | illumination | makeup | occlusion | blur |"
    assert lines[2].startswith("| Baseline (`baseline`) | 5.000 / 4.681 (+0.319) | 5.000 / 8.171 (-3.171) |")
    assert len(lines) == 2 + 10 and lines[3].startswith("| `two_step_l0` | — / 4.715 | — / 8.452 |")


def test_paired_intervals_use_the_common_faces_and_the_subset_flags():
    rng = np.random.default_rng(1)
    control = rng.uniform(0.04, 0.06, 400)
    pose = np.arange(400) < 100
    better = per_face(control - 0.005, flags={"pose": pose})  # 0.5 NME points better on every face
    intervals = paired_intervals(
        row=face_errors([better]),
        control=face_errors([per_face(control, flags={"pose": pose})]),
        subsets=("full", "pose"),
        resamples=500,
        seed=0,
    )
    assert np.isclose(intervals["full"].mean, -0.5) and intervals["full"].faces == 400
    assert intervals["pose"].faces == 100 and intervals["full"].high < 0
    seeds = face_errors([per_face(np.full(4, 0.02)), per_face(np.full(4, 0.04))])
    assert np.allclose(seeds["nme"], 3.0)  # seeds averaged per face, in percent
