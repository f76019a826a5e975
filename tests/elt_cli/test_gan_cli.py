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


@pytest.mark.slow
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
    assert set(torch.load(out / "landmarks.pt", weights_only=True)) == {"model", "config"}  # no optimiser state
    from gan_core.twin_landmarks import check_run
    from landmark_core.config import load_config
    from landmark_core.train_config import TrainConfig

    config = load_config(TrainConfig, out / "landmarks.toml")
    again = check_run(config=config, folder=tmp_path / "again", device=torch.device("cpu"))
    assert round(again, 6) == entry.first_losses[0]["loss"]  # the check computed again from the seed
    refused = runner.invoke(app, [*args, "--train-faces", "5"])
    assert "--train-faces 5: expected 20 or more" in str(refused.exception)


FLOW_TOML = """
samples = 6
seed = 2
lighting = "dpr"
[flow]
dim = 16
hidden = [16]
atol = 1e-3
rtol = 1e-3
[train]
steps = 5
batch = 2
"""


@pytest.mark.slow
def test_the_twin_flow_trains_on_collected_models_and_its_first_steps_replay(tmp_path):
    from gan_core.dpr import HourglassNet
    from gan_core.twin_flow import TwinFlowConfig, read_pairs, train_twin_flow
    from gan_core.twin_models import load_committed_generator
    from landmark_core.config import load_config

    (tmp_path / "gan.toml").write_text(TINY_TOML)
    (tmp_path / "lm.toml").write_text(TINY_LANDMARKS)
    (tmp_path / "flow.toml").write_text(FLOW_TOML)
    gan = ["gan", "train-twin", "--out", str(tmp_path / "g"), "--config", str(tmp_path / "gan.toml")]
    marks = ["gan", "train-twin-landmarks", "--out", str(tmp_path / "l"), "--config", str(tmp_path / "lm.toml")]
    for args in (gan, [*marks, "--train-faces", "20", "--test-faces", "2"]):
        assert runner.invoke(app, args).exit_code == 0
    models = tmp_path / "models"
    collected = runner.invoke(app, ["gan", "collect", str(tmp_path / "g"), str(tmp_path / "l"), "--into", str(models)])
    assert collected.exit_code == 0, collected.output
    assert set(read_manifest(models)) == {"generator.pt", "landmarks.pt"}
    torch.save(HourglassNet().state_dict(), tmp_path / "dpr.pt")  # a stand-in of DPR's published weights
    out = tmp_path / "flow"
    args = ["gan", "train-twin-flow", "--out", str(out), "--dpr", str(tmp_path / "dpr.pt"), "--models", str(models)]
    result = runner.invoke(app, [*args, "--config", str(tmp_path / "flow.toml")])
    assert result.exit_code == 0, result.output
    entry = read_manifest(out)["flow.pt"]
    assert verified_path(folder=out, name="flow.pt") and len(entry.first_losses) == 4 and entry.inputs == ("pairs.csv",)
    config = load_config(TwinFlowConfig, out / "flow.json")
    pairs = read_pairs(generator=load_committed_generator(folder=models), path=out / "pairs.csv", count=6, seed=2)
    _, replayed = train_twin_flow(pairs=pairs, config=config, steps=4)
    assert [round(v, 6) for v in replayed] == [s["nll_per_dim"] for s in entry.first_losses]
    wrong = runner.invoke(app, ["gan", "train-twin-flow", "--out", str(out), "--dpr", str(tmp_path / "none.pt")])
    assert "--dpr" in str(wrong.exception) and "no such file" in str(wrong.exception)


def test_the_flow_takes_dpr_weights_only_when_its_lighting_is_dpr(tmp_path):
    (tmp_path / "dpr.pt").write_bytes(b"")
    (tmp_path / "flow.toml").write_text(FLOW_TOML)
    for extra in (["--dpr", str(tmp_path / "dpr.pt")], ["--config", str(tmp_path / "flow.toml")]):
        result = runner.invoke(app, ["gan", "train-twin-flow", "--out", str(tmp_path / "out"), *extra])
        assert result.exit_code != 0 and "--dpr is needed with" in str(result.exception)
        assert not (tmp_path / "out").exists()


ENCODER_TOML = """
channels = 4
max_channels = 8
hidden = 16
w_avg_samples = 64
[train]
steps = 3
batch = 2
"""


def test_an_encoder_for_a_published_generator_trains_installs_and_prints_its_setting(tmp_path):
    from gan_core.trained_encoder import load_trained_encoder
    from tasks.published_weights import ProjectConfig, load_generator_for

    (tmp_path / "enc.toml").write_text(ENCODER_TOML)
    weights, run = tmp_path / "weights", tmp_path / "run"
    args = ["gan", "train-encoder", "--generator", "random", "--weights-dir", str(weights), "--out", str(run)]
    result = runner.invoke(app, [*args, "--config", str(tmp_path / "enc.toml"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    entry = read_manifest(run)["encoder.pt"]
    assert entry.command.startswith("eltrepro gan train-encoder --generator=random --weights-dir=")
    assert len(entry.first_losses) == 3 and set(entry.losses) == {"total", "latent", "image", "delta"}
    assert f'encoder_sha256 = "{entry.sha256}"' in result.output.replace("\n", "")
    installed = weights / f"w-encoder-{entry.sha256[:16]}"
    assert sorted(p.name for p in installed.iterdir()) == ["MANIFEST.toml", "encoder.json", "encoder.pt"]
    generator, _ = load_generator_for(config=ProjectConfig(generator="random"), weights_dir=None, device="cpu")
    encoder = load_trained_encoder(weights_dir=weights, sha256=entry.sha256, generator=generator)
    assert encoder(torch.zeros(1, 3, 32, 32))[0].shape == (1, generator.config.n_latent, generator.config.style_dim)


def test_an_encoder_for_weights_that_are_not_there_is_refused_in_one_line(tmp_path):
    from elt_cli.main import input_errors

    args = ["gan", "train-encoder", "--generator", "ffhq-1024", "--weights-dir", str(tmp_path), "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "run"), "--device", "cpu"])
    assert isinstance(result.exception, input_errors()), result.output
    assert "published weights 'ffhq-1024' not found" in str(result.exception)
    unknown = runner.invoke(app, [*args, str(tmp_path / "run2"), "--generator", "ffhq-2048"])
    assert isinstance(unknown.exception, input_errors()) and "ffhq-2048" in str(unknown.exception)
    twin = runner.invoke(app, [*args, str(tmp_path / "run3"), "--generator", "twin"])
    assert isinstance(twin.exception, input_errors()) and "train-twin-encoder" in str(twin.exception)


def test_the_twin_encoder_trains_on_the_committed_twin_gan_and_records_its_command(tmp_path):
    (tmp_path / "enc.toml").write_text(ENCODER_TOML)
    run = tmp_path / "run"
    args = ["gan", "train-twin-encoder", "--out", str(run), "--config", str(tmp_path / "enc.toml"), "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    entry = read_manifest(run)["encoder.pt"]
    assert entry.command == f"eltrepro gan train-twin-encoder --out={run} --config={tmp_path / 'enc.toml'} --threads=1"
    assert len(entry.first_losses) == 3 and entry.settings == "encoder.json"
    assert sorted(p.name for p in run.iterdir()) == ["MANIFEST.toml", "encoder.json", "encoder.pt"]
