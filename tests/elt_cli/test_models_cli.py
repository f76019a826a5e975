"""``eltrepro predict`` and ``eltrepro export`` as a user runs them: outputs, and input mistakes as one line
with exit status 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from elt_cli.main import app
from elt_models.trained_runs import find_run
from landmark_core.wflw import IMAGES_DIR
from tests.elt_cli.test_cli import _eltrepro

BIN = Path(sys.executable).parent
runner = CliRunner()


@pytest.mark.parametrize("command", ["predict", "export"])
def test_the_commands_have_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_export_a_row_of_the_store_as_torchscript_with_its_card(trained_runs_store, tmp_path):
    args = ["export", "--format", "torchscript", "--row", "baseline", "--seed", "1", "--store", trained_runs_store.url]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "baseline-seed1.pt.json").read_text())
    run = find_run(trained_runs_store, row="baseline", seed=1)
    assert card["run"]["train_key"] == run.trained.key and card["run"]["test_metrics"]["nme"] == 6.0
    network = torch.jit.load(tmp_path / "baseline-seed1.pt")
    heatmaps, landmarks = network(torch.rand(3, 3, 32, 32))
    assert heatmaps.shape[:2] == (3, 98) and landmarks.shape == (3, 98, 2)


def test_predict_a_folder_with_a_checkpoint(trained_runs_store, synth_root, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for photo in sorted((synth_root / IMAGES_DIR).rglob("*test*.jpg"))[:3]:
        (photos / photo.name).write_bytes(photo.read_bytes())
    (photos / "notes.txt").write_text("not a photo")  # folders give their photos and videos only
    checkpoint = find_run(trained_runs_store, row="elt").checkpoint
    result = runner.invoke(app, ["predict", str(photos), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "3 input(s)" in result.output
    assert len(list((tmp_path / "o").glob("*.overlay.jpg"))) == 3
    skipped = pd.read_csv(tmp_path / "o" / "skipped.csv")
    assert set(skipped["reason"]) <= {"no face found"}


def test_mistakes_are_one_line(trained_runs_store, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "p.jpg").write_bytes(b"x")
    (tmp_path / "boxes.csv").write_text("image,x_min\np.jpg,1\n")
    checkpoint = str(find_run(trained_runs_store, row="elt").checkpoint)
    store = ["--store", trained_runs_store.url]
    cases = [
        (["predict", "empty"], "empty: no photo or video"),
        (["predict", "p.jpg"], "give --row (a run of the store's report) or --checkpoint PATH, not both"),
        (["predict", "p.jpg", "--row", "elt", "--checkpoint", checkpoint, *store], "not both"),
        (["predict", "p.jpg", "--checkpoint", "nope.pt"], "--checkpoint nope.pt: no such file"),
        (["predict", "p.jpg", "--checkpoint", checkpoint, "--boxes", "no.csv"], "--boxes no.csv: no such file"),
        (["predict", "p.jpg", "--checkpoint", checkpoint, "--boxes", "boxes.csv"], "missing column(s) y_min"),
        (["export", "--format", "tflite", "--row", "elt", *store], "--format 'tflite': expected one of"),
        (["export", "--format", "onnx", "--row", "other", *store], "--row 'other': not in the report"),
        (["export", "--format", "onnx", "--row", "elt", "--seed", "3", *store], "--seed 3: row 'elt' has seeds 0"),
    ]
    for args, fragment in cases:
        result = _eltrepro(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
