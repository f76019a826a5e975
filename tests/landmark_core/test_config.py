"""Configs from TOML/JSON files: nested sections, tuples, clear errors."""

from __future__ import annotations

import json

import pytest

from landmark_core.config import ConfigError, from_dict, load_config, override, to_dict
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


def test_an_unknown_key_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"loss": {"elt_lamda": 0.25}}))
    with pytest.raises(ConfigError, match=r"^.*bad.json: unknown key 'loss.elt_lamda'$"):
        load_config(TrainConfig, path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"loss": {"elt_lambda": "x"}}, "loss.elt_lambda = 'x': input should be a valid number"),
        ({"max_epochs": 2.5}, "max_epochs = 2.5: input should be a valid integer"),
        ({"lr": True}, "lr = True: input should be a valid number"),
        ({"loss": {"elt_lambda": -0.1}}, "loss.elt_lambda = -0.1: input should be greater than or equal to 0"),
        ({"val_fraction": 1.0}, "val_fraction = 1.0: input should be less than 1"),
        ({"loss": {"elt_mode": "l1"}}, "loss.elt_mode = 'l1': input should be 'heatmap' or 'soft_l2'"),
        ({"model": {"size": 64}}, "model.size 64 != augment.size 128"),
    ],
)
def test_a_bad_value_is_one_line_with_the_key_the_value_and_what_was_expected(data, message):
    with pytest.raises(ConfigError) as caught:
        from_dict(TrainConfig, data, where="run.toml", key="train")
    text = str(caught.value)
    assert text.startswith("run.toml: ") and message in text and "\n" not in text


def test_file_mistakes_name_the_file_and_the_line(tmp_path):
    (tmp_path / "x.yaml").write_text("seed: 1\n")
    with pytest.raises(ConfigError, match="must end in"):
        load_config(TrainConfig, tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="x.toml: no such file"):
        load_config(TrainConfig, tmp_path / "x.toml")
    (tmp_path / "broken.toml").write_text("seed = 1\n[loss\n")
    with pytest.raises(ConfigError, match=r"broken.toml: .*line 2"):
        load_config(TrainConfig, tmp_path / "broken.toml")


def test_an_override_is_validated_like_a_file_and_names_the_flag():
    config = from_dict(TrainConfig, {"max_epochs": 5, "loss": {"elt_lambda": 0.25}})
    changed = override(config, changes={"max_epochs": ("--epochs", 7), "workers": ("--workers", None)})
    assert changed.max_epochs == 7 and changed.workers == config.workers and changed.loss == config.loss
    assert override(config, changes={"max_epochs": ("--epochs", None)}) is config  # no flag given: unchanged
    for flag, key, value, rule in (
        ("--epochs", "max_epochs", -3, "greater than or equal to 1"),
        ("--workers", "workers", -1, "greater than or equal to 0"),
        ("--epochs", "max_epochs", 2.5, "valid integer"),
    ):
        with pytest.raises(ConfigError) as caught:
            override(config, changes={key: (flag, value)})
        message = str(caught.value)
        assert message.startswith(f"{flag} {value}: {key} = {value}: ") and rule in message and "\n" not in message
