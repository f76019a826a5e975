"""``eltrepro gan train-twin``: trains, resumes, and refuses mistakes in one line before drawing a face."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from elt_cli.main import app
from landmark_core.model_manifest import read_manifest, verified_path

runner = CliRunner()

TINY_TOML = """
[generator]
resolution = 16
style_dim = 16
n_mlp = 2
channel_base = 128
channel_max = 16
[discriminator]
resolution = 16
channel_base = 128
channel_max = 16
[faces]
count = 8
photo_side = 64
[train]
steps = 3
batch = 4
r1_interval = 2
"""


def test_train_then_go_on_to_more_steps(tmp_path):
    (tmp_path / "gan.toml").write_text(TINY_TOML)
    args = ["gan", "train-twin", "--out", str(tmp_path / "run"), "--config", str(tmp_path / "gan.toml")]
    first = runner.invoke(app, [*args, "--threads", "1"])
    assert first.exit_code == 0, first.output
    assert "step 0 of 3; drawing 8 faces" in first.output and "step 3: G" in first.output
    made = {"config.json", "state.pt", "losses.csv", "generator.pt", "MANIFEST.toml"}
    assert {p.name for p in (tmp_path / "run").iterdir()} == made
    entry = read_manifest(tmp_path / "run")["generator.pt"]
    assert (
        entry.command
        == f"eltrepro gan train-twin --out={tmp_path / 'run'} --config={tmp_path / 'gan.toml'} --threads=1"
    )
    assert verified_path(folder=tmp_path / "run", name="generator.pt") and entry.settings == "config.json"
    assert set(entry.losses) == {"generator", "discriminator"} and entry.seconds > 0
    recorded = [(s["generator"], s["discriminator"]) for s in entry.first_losses]  # the first 3 steps (all there are)
    losses = (tmp_path / "run" / "losses.csv").read_text().splitlines()[1:]
    assert recorded == [tuple(round(float(v), 6) for v in line.split(",")[1:3]) for line in losses]
    more = runner.invoke(app, [*args, "--steps", "5"])
    assert more.exit_code == 0, more.output
    assert "step 3 of 5" in more.output
    assert read_manifest(tmp_path / "run")["generator.pt"].seconds > entry.seconds  # the time of both starts
    assert len((tmp_path / "run" / "losses.csv").read_text().splitlines()) == 6


@pytest.mark.parametrize(
    ("extra", "toml", "expected"),
    [
        (["--steps", "0"], TINY_TOML, "--steps 0: expected 1 or more"),
        (["--checkpoint-every", "x"], TINY_TOML, "--checkpoint-every 'x': expected a whole number"),
        ([], TINY_TOML.replace("count = 8", "count = -1"), "faces.count = -1"),
        ([], TINY_TOML + "[extra]\n", "unknown key 'extra'"),
        ([], TINY_TOML.replace("resolution = 16\nchannel", "resolution = 32\nchannel"), "discriminator sees 32 px"),
    ],
)
def test_mistakes_are_refused_naming_the_value(tmp_path, extra, toml, expected):
    from elt_cli.main import input_errors

    (tmp_path / "gan.toml").write_text(toml)
    args = ["gan", "train-twin", "--out", str(tmp_path / "run"), "--config", str(tmp_path / "gan.toml"), *extra]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, input_errors()), result.output
    assert expected in str(result.exception)
    assert not (tmp_path / "run").exists()  # nothing made: the corrected command starts afresh


TINY_LANDMARKS = """
max_epochs = 1
max_steps = 2
batch_size = 4
[model]
size = 32
stem_channels = 4
encoder_channels = [8, 16]
encoder_blocks = [1, 1]
decoder_channels = [8, 8]
stages = 1
[augment]
size = 32
"""


def test_the_twin_landmark_model_trains_evaluates_and_records_its_check(tmp_path):
    (tmp_path / "lm.toml").write_text(TINY_LANDMARKS)
    out = tmp_path / "run"
    args = ["gan", "train-twin-landmarks", "--out", str(out), "--config", str(tmp_path / "lm.toml")]
    result = runner.invoke(app, [*args, "--train-faces", "20", "--test-faces", "3"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "20 training and 3 test faces at 32 px" in said and "test NME" in said
    entry = read_manifest(out)["landmarks.pt"]
    assert verified_path(folder=out, name="landmarks.pt") and (out / "landmarks.toml").read_text() == TINY_LANDMARKS
    assert set(entry.losses) == {"loss", "val_nme", "test_nme"} and entry.first_losses[0]["steps"] == 4
    from gan_core.twin_landmarks import check_run
    from landmark_core.config import load_config
    from landmark_core.train_config import TrainConfig

    config = load_config(TrainConfig, out / "landmarks.toml")
    again = check_run(config=config, folder=tmp_path / "again", device=torch.device("cpu"))
    assert round(again, 6) == entry.first_losses[0]["loss"]  # the check computed again from the seed
    refused = runner.invoke(app, [*args, "--train-faces", "5"])
    assert "--train-faces 5: expected 20 or more" in str(refused.exception)
