"""Every shipped training config loads, and the rows differ only where they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmark_core.config import load_config
from landmark_core.train_config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "flows" / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_config_loads(path):
    config = load_config(TrainConfig, path)
    assert config.model.size == config.augment.size


@pytest.mark.parametrize("profile", ["demo", "study"])
def test_control_and_elt_rows_differ_only_in_lambda(profile):
    base = load_config(TrainConfig, CONFIGS / f"{profile}_two_step_l0.toml")
    elt = load_config(TrainConfig, CONFIGS / f"{profile}_elt.toml")
    assert base.loss.elt_lambda == 0 and elt.loss.elt_lambda == 0.25
    assert (elt.augment.r1, elt.augment.r2) == (0.0, 0.05)  # the study's best row
    assert TrainConfig(**{**elt.__dict__, "loss": base.loss}) == base
