from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


COMMANDS = [[], ["data"], ["data", "synth"], ["data", "index"], ["data", "fetch"], ["demo"], ["train"], ["evaluate"]]
COMMANDS += [["run"], ["weights"], ["weights", "list"], ["weights", "fetch"]]


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


def test_weights_list_names_the_licence_and_fetch_reports_errors(tmp_path):
    listed = runner.invoke(app, ["weights", "list"])
    assert listed.exit_code == 0 and "ffhq-1024" in listed.output and "non-commercial" in listed.output
    unknown = runner.invoke(app, ["weights", "fetch", "nope", "--dest", str(tmp_path)])
    assert unknown.exit_code == 1 and "unknown published weights 'nope'" in unknown.output
    unpinned = runner.invoke(app, ["weights", "fetch", "ffhq-1024", "--dest", str(tmp_path)])
    assert unpinned.exit_code == 1 and "--trust-first-download" in unpinned.output


def test_weights_fetch_from_a_mirror(tmp_path):
    import hashlib

    from tests.loopback import Loopback

    mirror = Loopback()
    mirror.files["ffhq.pkl"] = b"pretend network"
    digest = hashlib.sha256(b"pretend network").hexdigest()
    try:
        args = ["weights", "fetch", "ffhq-1024", "--dest", str(tmp_path), "--mirror", mirror.url]
        result = runner.invoke(app, [*args, "--sha256", f"ffhq.pkl={digest}"])
    finally:
        mirror.close()
    assert result.exit_code == 0, result.output
    assert f"ffhq.pkl: downloaded (sha256 {digest})" in result.output
    assert (tmp_path / "ffhq.pkl").read_bytes() == b"pretend network"
