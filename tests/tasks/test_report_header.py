"""Why each run stopped, in words, from its saved config."""

from __future__ import annotations

from landmark_core.config import to_dict
from landmark_core.train_config import TrainConfig
from tasks.report_header import stop_reason


def test_each_schedule_says_why_its_run_stopped():
    study = to_dict(TrainConfig())
    assert stop_reason(study, 1000) == "the epoch cap (max_epochs = 1000) before the plateau rule"
    assert stop_reason(study, 212).startswith("the plateau rule (lr at min_lr 1e-05, no better validation NME for 30")
    cosine = to_dict(TrainConfig(lr_schedule="cosine", max_epochs=6))
    assert stop_reason(cosine, 6) == "the cosine schedule's fixed budget (max_epochs = 6)"
