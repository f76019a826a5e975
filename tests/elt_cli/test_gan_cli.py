"""``eltrepro gan train-twin``: trains, resumes, and refuses mistakes in one line before drawing a face."""

from __future__ import annotations

import pytest
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
