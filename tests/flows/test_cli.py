from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


COMMANDS = [[], ["data"], ["data", "synth"], ["data", "index"], ["data", "fetch"], ["demo"], ["train"], ["evaluate"]]
COMMANDS.append(["run"])


@pytest.mark.parametrize("args", COMMANDS)
def test_every_command_has_help(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_index_command_writes_both_tables(synth_root, tmp_path):
    result = runner.invoke(app, ["data", "index", "--root", str(synth_root), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    faces = pd.read_parquet(tmp_path / "faces.parquet")
    assert {"face_id", "yaw", "in_frontal", "in_frontal_illumination", "landmarks"} <= set(faces.columns)
    assert pd.read_parquet(tmp_path / "quarantine.parquet").empty
    assert f"indexed {len(faces)} faces" in result.output and "frontal_illumination" in result.output


def test_index_command_on_a_missing_root_fails_cleanly(tmp_path):
    result = runner.invoke(app, ["data", "index", "--root", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no WFLW annotation file" in result.output
