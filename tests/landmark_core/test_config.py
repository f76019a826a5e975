"""Configs from TOML/JSON files: nested sections, tuples, clear errors."""

from __future__ import annotations

import json

import pytest

from landmark_core.config import from_dict, load_config, to_dict
from landmark_core.train_config import TrainConfig


def test_toml_sections_build_nested_frozen_configs(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        "seed = 3\n[model]\nsize = 64\nencoder_channels = [8, 16, 32, 64]\n"
        "[augment]\nsize = 64\nr1 = 0\nr2 = 0.05\n[loss]\nelt_lambda = 0.25\n"
    )
    config = load_config(TrainConfig, path)
    assert config.seed == 3 and config.model.encoder_channels == (8, 16, 32, 64)
    assert config.augment.r1 == 0.0 and isinstance(config.augment.r1, float)
    assert config.loss.elt_lambda == 0.25 and config.model.stages == 2  # defaults kept
    again = from_dict(TrainConfig, json.loads(json.dumps(to_dict(config))))
    assert again == config


def test_unknown_keys_and_bad_values_name_the_file_and_key(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"loss": {"elt_lamda": 0.25}}))
    with pytest.raises(ValueError, match=r"bad.json: config.loss: unknown key\(s\) \['elt_lamda'\]"):
        load_config(TrainConfig, path)
    path.write_text(json.dumps({"model": {"size": 64}}))
    with pytest.raises(ValueError, match="model.size 64 != augment.size 128"):
        load_config(TrainConfig, path)
    with pytest.raises(ValueError, match="must end in"):
        load_config(TrainConfig, tmp_path / "x.yaml")
