"""Why each run stopped, in words, from its saved config."""

from __future__ import annotations

from landmark_core.config import to_dict
from landmark_core.train_config import TrainConfig
from tasks.report_header import stop_reason, without_machine_facts


def test_each_schedule_says_why_its_run_stopped():
    study = to_dict(TrainConfig())
    assert stop_reason(study, 1000) == "the epoch cap (max_epochs = 1000) before the plateau rule"
    assert stop_reason(study, 212).startswith("the plateau rule (lr at min_lr 1e-05, no better validation NME for 30")
    cosine = to_dict(TrainConfig(lr_schedule="cosine", max_epochs=6))
    assert stop_reason(cosine, 6) == "the cosine schedule's fixed budget (max_epochs = 6)"


def test_without_machine_facts_drops_the_date_and_the_wall_times_only():
    report = "\n".join(
        [
            "# ELT-Repro report",
            "",
            "- **Profile**: `demo`",
            "- **Made**: 2026-12-02 05:54 UTC",
            "",
            "## Runs: epochs trained and why each stopped",
            "| run |",
            "## Wall time per stage",
            "",
            "| synth_wflw | 1 | 20.0 |",
            "",
            "## Claims",
            "| claim |",
        ]
    )
    kept = without_machine_facts(report)
    assert "Made" not in kept and "20.0" not in kept and "Wall time" not in kept
    assert kept.splitlines() == [
        "# ELT-Repro report",
        "",
        "- **Profile**: `demo`",
        "",
        "## Runs: epochs trained and why each stopped",
        "| run |",
        "## Claims",
        "| claim |",
    ]
