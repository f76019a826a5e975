"""The published cells: all 400, the study's layout, and one clear line for a broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from landmark_core.config import ConfigError
from landmark_core.report import STUDY_TABLES
from landmark_core.study_values import STUDY_VALUES_FILE, load_study_values

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "study_tables.csv"


def test_the_project_holds_all_400_cells_in_the_study_layout():
    cells = load_study_values()
    assert len(cells) == 400
    assert (
        cells[("4.1", "baseline", "full", "nme")] == 4.681 and cells[("4.1", "rt_l0.25_r0.05", "full", "nme")] == 4.615
    )
    for table, spec in STUDY_TABLES.items():
        mine = [c for c in cells if c[0] == table]
        assert {c[2] for c in mine} == set(spec.subsets) and {c[3] for c in mine} == {spec.metric}
        assert len({c[1] for c in mine}) == (10 if spec.rows_tagged == "4.1" else 4)


@pytest.mark.skipif(not SHARED.is_file(), reason="the reference copy is only beside the development checkout")
def test_the_copy_matches_the_reference_transcription():
    assert load_study_values() == load_study_values(SHARED)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("4.1,baseline,full,nme,abc", "line 2: value 'abc' is not a number"),
        ("4.1,baseline,full,nme,nan", "line 2: value 'nan' is not finite"),
        ("4.1,baseline,full,4.6", "line 2: expected 5 fields, got 4"),
        (
            "4.1,baseline,full,nme,4.681\n4.1,baseline,full,nme,4.7",
            "line 3: the cell 4.1,baseline,full,nme is given twice",
        ),
    ],
)
def test_a_broken_file_is_one_line_naming_the_file_and_line(tmp_path, line, message):
    path = tmp_path / "cells.csv"
    path.write_text("table,row,subset,metric,value\n" + line + "\n")
    with pytest.raises(ConfigError) as err:
        load_study_values(path)
    assert str(err.value) == f"{path}: {message}"


def test_a_wrong_header_is_named(tmp_path):
    path = tmp_path / "cells.csv"
    shutil.copy(STUDY_VALUES_FILE, path)
    path.write_text(path.read_text().replace("table,row", "tab,row", 1))
    with pytest.raises(ConfigError, match="line 1: expected the header table,row,subset,metric,value"):
        load_study_values(path)
