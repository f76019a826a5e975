"""Study tables: rows by tag, metrics by subset, published values beside ours."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landmark_core.metrics import METRIC_COLUMNS
from landmark_core.report import STUDY_TABLES, study_tables, tables_markdown
from landmark_core.subsets import SUBSETS


def _metrics(base: float) -> pd.DataFrame:
    values = {c: [base + i for i in range(len(SUBSETS))] for c in METRIC_COLUMNS}
    return pd.DataFrame(values, index=list(SUBSETS))


def test_tables_pick_rows_by_tag_and_put_the_study_beside_ours():
    metrics = {"baseline": _metrics(1.0), "elt": _metrics(2.0), "relit": _metrics(3.0)}
    tags = {"baseline": ("4.1", "4.5"), "elt": ("4.1",), "relit": ("4.5",)}
    published = {("4.1", "baseline", "full"): 4.681, ("4.1", "baseline", "pose"): 8.171}
    tables = study_tables(metrics=metrics, tags=tags, published=published)
    assert sorted(tables) == sorted(STUDY_TABLES)
    t41 = tables["4.1"]
    assert list(t41.index) == ["baseline", "elt"]
    assert t41.loc["elt", "full"] == 2.0 and t41.loc["elt", "pose"] == 3.0  # SUBSETS order: full, pose, ...
    assert t41.loc["baseline", "full (study)"] == 4.681 and np.isnan(t41.loc["elt", "full (study)"])
    assert list(t41.columns[:3]) == ["full", "full (study)", "pose"]
    assert "expression (study)" not in t41.columns
    assert list(tables["4.5"].index) == ["baseline", "relit"]
    assert list(tables["4.5"].columns) == ["full", "illumination", "frontal", "frontal_illumination"]
    assert tables["4.2"].loc["elt", "full"] == metrics["elt"].loc["full", "nme99"]
    assert list(tables["4.9"].columns[:2]) == ["fr10 full", "auc10 full"]


def test_empty_tables_are_left_out_and_markdown_renders_blanks():
    tables = study_tables(
        metrics={"elt": _metrics(2.0)}, tags={"elt": ("4.1",)}, published={("4.1", "elt", "full"): 4.615}
    )
    assert sorted(tables) == ["4.1", "4.2", "4.3", "4.4"]
    text = tables_markdown(tables)
    assert "## Table 4.1: NME %" in text and "| elt | 2.000 | 4.615 | 3.000 |" in text
    mixed = study_tables(
        metrics={"elt": _metrics(2.0), "relit_physical": _metrics(3.0)},
        tags={"elt": ("4.1",), "relit_physical": ("4.1",)},
        published={("4.1", "elt", "full"): 4.615},
    )
    text = tables_markdown(mixed, beyond_study=frozenset({"relit_physical"}))
    assert "| relit_physical (beyond the study) | 3.000 |  |" in text and "| elt | 2.000 | 4.615 |" in text
