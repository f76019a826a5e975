"""Every shipped training config loads, and the rows differ only where they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmark_core.config import load_config
from landmark_core.train_config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "elt_study" / "configs"


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
        ("seeds = []", "seeds = []: expected a list of distinct non-negative integers"),
        ("seeds = [0, 0]", "seeds = [0, 0]: expected a list of distinct non-negative integers"),
        ('seeds = ["a"]', "seeds = ['a']: expected a list of distinct non-negative integers"),
        ("[row_seeds]\nbaseline = [-1]", "row_seeds.baseline = [-1]: expected a list of distinct non-negative"),
        ("rows = 3", "rows = 3: expected a list of matrix row names"),
        ('[train]\nlr_schedule = "step"', "train.lr_schedule = 'step': input should be 'plateau' or 'cosine'"),
        ("shard_faces = -1", "shard_faces = -1: expected 0 (no shards) or a number of faces per shard"),
        ("shard_faces = 2.5", "shard_faces = 2.5: expected 0 (no shards) or a number of faces per shard"),
    ],
)
def test_out_of_range_values_are_refused_when_the_profile_loads(tmp_path, body, message):
    from elt_study.run_profile import load_profile
    from landmark_core.config import ConfigError

    path = tmp_path / "profile.toml"
    path.write_text(body + "\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: {message}" or str(caught.value).startswith(f"{path}: {message}")


def test_seeds_default_to_the_train_seed_and_rows_may_override_them(tmp_path):
    from elt_study.run_profile import load_profile

    path = tmp_path / "profile.toml"
    path.write_text("[train]\nseed = 7\n")
    assert load_profile(path).seeds == (7,) and load_profile(path).seeds_for("baseline") == (7,)
    path.write_text('seeds = [0]\nrows = ["baseline", "two_step_l0"]\n[row_seeds]\ntwo_step_l0 = [0, 1]\n')
    profile = load_profile(path)
    assert profile.seeds_for("baseline") == (0,) and profile.seeds_for("two_step_l0") == (0, 1)
    profile.check_rows(["baseline", "two_step_l0"])
    with pytest.raises(ValueError, match=r"unknown row\(s\) \['two_step_l0'\] in rows/row_seeds"):
        profile.check_rows(["baseline"])


def test_the_demo_profile_runs_the_key_contrasts_with_two_seeds_for_the_control_and_the_best_elt_row():
    from elt_study.experiments import load_matrix
    from elt_study.run_profile import PROFILE_DIR, load_profile

    demo = load_profile(PROFILE_DIR / "demo.toml")
    demo.check_rows([r.name for r in load_matrix(demo.matrix)])
    assert {"two_step_l0", "rt_l0.25_r0.05", "baseline"} <= set(demo.rows)
    assert any(r.endswith("_relit") for r in demo.rows)
    assert len(demo.seeds_for("two_step_l0")) == len(demo.seeds_for("rt_l0.25_r0.05")) == 2
    full = load_profile(PROFILE_DIR / "demo-full.toml")
    assert full.rows == () and full.train == demo.train  # every row, the same network


def test_shard_faces_is_a_runtime_setting_of_the_profile(tmp_path):
    from elt_study.run_profile import PROFILE_DIR, load_profile

    path = tmp_path / "profile.toml"
    path.write_text("shard_faces = 16\n")
    assert load_profile(path).shard_faces == 16
    path.write_text("")
    assert load_profile(path).shard_faces == 0  # one piece unless asked
    assert load_profile(PROFILE_DIR / "thesis.toml").shard_faces == 64


def test_the_ffhq_encoder_settings_size_an_encoder_for_the_published_generator():
    import torch

    from gan_core.stylegan2_config import GeneratorConfig
    from gan_core.w_encoder import WEncoder
    from gan_core.w_encoder_train import TwinEncoderConfig

    settings = load_config(TwinEncoderConfig, CONFIGS.parent / "encoders" / "ffhq-1024.toml")
    ffhq = GeneratorConfig()  # the defaults are config-f at 1024 px

    class Shape:  # what shape_for reads of a generator
        config = ffhq

    with torch.device("meta"):
        encoder = WEncoder(settings.shape_for(Shape()))
    assert encoder.offsets.out_features == 18 * 512 and len(encoder.down) == 8  # 1024 px halved to 4x4
    assert 3 * settings.train.batch * settings.train.steps == 480_000  # the evaluations its comment costs
