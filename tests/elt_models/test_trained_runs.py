"""A report's runs found by row and seed; what is not there is one line naming it."""

from __future__ import annotations

import dataclasses

import pytest

from elt_models.trained_runs import find_run, trained_runs
from kit.store import Store
from landmark_core.config import ConfigError
from landmark_core.train import load_checkpoint


def test_the_reports_runs_in_its_order(trained_runs_store):
    runs = trained_runs(trained_runs_store)
    assert [(r.name, r.row, r.seed) for r in runs] == [
        ("baseline-seed0", "baseline", 0),
        ("baseline-seed1", "baseline", 1),
        ("elt", "elt", 0),
    ]
    assert all(r.checkpoint.is_file() for r in runs)
    assert runs[1].describe()["test_metrics"] == {"nme": 6.0, "faces": 12.0}


def test_a_row_and_seed_pick_one_run_and_its_checkpoint(trained_runs_store):
    run = find_run(trained_runs_store, row="baseline", seed=1)
    assert run.name == "baseline-seed1" and run.trained.metadata()["info"]["seed"] == 1
    _, config, _ = load_checkpoint(run.checkpoint)
    assert config.seed == 1
    assert find_run(trained_runs_store, row="baseline").seed == 0  # the lowest seed by default
    assert find_run(trained_runs_store, row="elt", report=run.report).name == "elt"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"row": "nosuch"}, "--row 'nosuch': not in the report"),
        ({"row": "baseline", "seed": 7}, "--seed 7: row 'baseline' has seeds 0, 1"),
        ({"row": "elt", "report": "0000"}, "no report with key 0000"),
    ],
)
def test_what_is_not_there_is_one_line(trained_runs_store, options, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\\(")) as caught:
        find_run(trained_runs_store, **options)
    assert "\\n" not in str(caught.value)


def test_a_store_without_a_report(tmp_path):
    with pytest.raises(ConfigError, match="no report yet"):
        trained_runs(Store(str(tmp_path)))


class _Evaluated:
    """Stands in for an evaluation output whose metrics are not all numbers."""

    def metadata(self) -> dict:
        return {"info": {"full": {"nme": float("nan"), "fr": float("inf"), "faces": 0, "note": "none"}}}


def test_metrics_that_are_not_finite_are_none_never_nan(trained_runs_store):
    run = find_run(trained_runs_store, row="elt")
    odd = dataclasses.replace(run, evaluated=_Evaluated())
    assert odd.describe()["test_metrics"] == {"nme": None, "fr": None, "faces": 0.0}
    assert dataclasses.replace(run, evaluated=None).describe()["test_metrics"] == {}
