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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[train]\nmax_epochs = 0", "train.max_epochs = 0: input should be greater than or equal to 1"),
        ("[train]\nmax_epochs = -3", "train.max_epochs = -3: input should be greater than or equal to 1"),
        ("[train]\nbatch_size = 0", "train.batch_size = 0: input should be greater than or equal to 1"),
        ('[train]\nlr = "fast"', "train.lr = 'fast': input should be a valid number"),
        ("[train]\nval_fraction = 1.5", "train.val_fraction = 1.5: input should be less than 1"),
        ("[train.model]\nencoder_blocks = [0, 1, 1, 1]", "train.model.encoder_blocks.0 = 0: input should be greater"),
        ("[synth]\ntrain = -1", "synth.train = -1: input should be greater than or equal to 1"),
        ("[synth]\np_blur = 2", "synth.p_blur = 2: input should be less than or equal to 1"),
        ("[subsets]\nfrontal_limit_deg = -5", "subsets.frontal_limit_deg = -5: input should be greater than 0"),
        ("[gan.project.projector]\nsteps = 0", "gan.project.projector.steps = 0: input should be greater than or"),
        ("[gan.detect]\nmax_pixels = 0", "gan.detect.max_pixels = 0: input should be greater than 0"),
    ],
)
def test_out_of_range_values_are_refused_when_the_profile_loads(tmp_path, body, message):
    from flows.run_profile import load_profile
    from landmark_core.config import ConfigError

    path = tmp_path / "profile.toml"
    path.write_text(body + "\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: {message}" or str(caught.value).startswith(f"{path}: {message}")
