from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from elt_cli.main import app
from tests.conftest import CreatesFile
from tests.flows.server import BIN

runner = CliRunner()


COMMANDS = [[], ["data"], ["data", "synth"], ["data", "index"], ["data", "fetch"], ["demo"], ["train"], ["evaluate"]]
COMMANDS += [
    ["run"],
    ["report"],
    ["doctor"],
    ["fetch-all"],
    ["weights"],
    ["weights", "list"],
    ["weights", "fetch"],
    ["stage", "list"],
    ["stage", "run"],
]


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


def test_weights_list_names_the_licence():
    listed = runner.invoke(app, ["weights", "list"])
    assert listed.exit_code == 0 and "ffhq-1024" in listed.output and "non-commercial" in listed.output


def _eltrepro(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed command, as a user runs it (so its one-line errors and exit status are what is tested)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return subprocess.run([str(BIN / "eltrepro"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def eltrepro_many(cases: list[list[str]], *, cwd: Path) -> list[subprocess.CompletedProcess]:
    """Each command line of ``cases`` run in ``cwd`` by the installed command's entry point, all in one fresh
    process (``tests/elt_cli/many_commands.py``): the same exit status, stdout and stderr as ``_eltrepro`` gives
    each, for one process start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "cases.json").write_text(json.dumps(cases))
        driver = [
            str(BIN / "python"),
            str(Path(__file__).with_name("many_commands.py")),
            *(f"{scratch}/{n}.json" for n in ("cases", "results")),
        ]
        ran = subprocess.run(driver, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert ran.returncode == 0, ran.stderr
        results = json.loads((Path(scratch) / "results.json").read_text())
    return [
        subprocess.CompletedProcess(args, r["returncode"], r["stdout"], r["stderr"])
        for args, r in zip(cases, results, strict=True)
    ]


def _mistakes(tmp: Path, synth_root: Path) -> list[tuple[list[str], str]]:
    (tmp / "bad_toml.toml").write_text("[train]\nlr = \n")
    (tmp / "bad_type.toml").write_text('[train.loss]\nelt_lambda = "x"\n')
    (tmp / "unknown_key.toml").write_text("[train]\nlr_typo = 1\n")
    (tmp / "bad_train.toml").write_text("[loss]\nelt_lamda = 1\n")
    (tmp / "bad_source.toml").write_text('[data]\nsource = "ftp"\n')
    import torch

    torch.save({"model": {}, "payload": CreatesFile(tmp / "code-ran")}, tmp / "evil.pt")
    (tmp / "cut.pt").write_bytes((tmp / "evil.pt").read_bytes()[:100])
    evaluate = ["evaluate", "--data", str(synth_root), "--out", "e", "--checkpoint"]
    (tmp / "empty.csv").write_bytes(b"")
    apply = ["review", "apply", "--store", str(tmp / "review-store"), "--decisions"]
    run = ["run", "--store", str(tmp / "store")]
    train = ["train", "--data", str(synth_root), "--out", str(tmp / "o")]
    return [
        ([*run, "--profile", "nope"], "unknown profile 'nope'; available: demo, demo-full, thesis"),
        ([*run, "--experiments", "nope"], "unknown experiment(s) ['nope']; known: baseline,"),
        ([*run, "--profile", str(tmp / "bad_toml.toml")], "bad_toml.toml: Invalid value (at line 2"),
        (
            [*run, "--profile", str(tmp / "bad_type.toml")],
            "train.loss.elt_lambda = 'x': input should be a valid number",
        ),
        ([*run, "--profile", str(tmp / "unknown_key.toml")], "unknown_key.toml: unknown key 'train.lr_typo'"),
        ([*run, "--profile", str(tmp / "bad_source.toml")], "data.source = 'ftp': expected 'synth' or 'wflw'"),
        ([*run, "--profile", str(tmp / "none.toml")], "none.toml: no such profile file"),
        ([*train, "--config", str(tmp / "nosuch.toml")], "nosuch.toml: no such file"),
        ([*train, "--config", str(tmp / "bad_train.toml")], "bad_train.toml: unknown key 'loss.elt_lamda'"),
        ([*train, "--device", "tpu"], "device 'tpu' is not one of auto, cpu, cuda, cuda:<n>"),
        ([*train, "--epochs", "-3"], "--epochs -3: max_epochs = -3: input should be greater than or equal to 1"),
        ([*train, "--workers", "-1"], "--workers -1: workers = -1: input should be greater than or equal to 0"),
        (["data", "synth", "--out", str(tmp / "o"), "--workers", "-1"], "--workers -1: expected 0 (one per core)"),
        (["data", "synth", "--out", str(tmp / "o"), "--train", "0"], "options: train = 0: input should be greater"),
        (["review", "serve", "--store", str(tmp / "review-store"), "--port", "-5"], "--port -5: expected a TCP port"),
        (
            ["evaluate", "--checkpoint", str(tmp / "no.pt"), "--data", str(synth_root), "--out", "e"],
            "no such checkpoint",
        ),
        ([*evaluate, str(tmp / "evil.pt")], "evil.pt: refused as a checkpoint: it holds objects other than tensors"),
        ([*evaluate, str(tmp / "cut.pt")], "cut.pt: not a readable checkpoint (truncated or corrupt"),
        (["data", "fetch", "--dest", str(tmp / "dl"), "--sha256", "badformat"], "--sha256 'badformat': expected NAME="),
        (["data", "index", "--root", str(tmp / "none"), "--out", str(tmp / "o")], "none: no such folder"),
        (["weights", "fetch", "nope", "--dest", str(tmp)], "unknown weights ['nope']; known: ffhq-1024"),
        (["weights", "fetch", "ffhq-1024", "--dest", str(tmp)], "--trust-first-download"),
        ([*apply, str(tmp / "empty.csv")], "empty.csv: cannot read the decisions (it is empty"),
        ([*apply, str(tmp / "evil.pt")], "evil.pt: cannot read the decisions (not a UTF-8 CSV table"),
        (["stage", "run", "nope"], "unknown stage 'nope'; stages: align, attributes,"),
        (["report", "--store", str(tmp / "empty")], "empty: no report yet; make one with `eltrepro run`"),
        (["predict"], "eltrepro predict: Missing argument 'inputs'. (see `eltrepro predict --help`)"),
        ([*run, "--bogus"], "eltrepro run: No such option: --bogus"),
        (["data", "synth", "--out", str(tmp / "o"), "--train", "abc"], "Invalid value for '--train': Input should"),
        (["nosuch"], "eltrepro: No such command 'nosuch'."),
        (["report", "--store", str(tmp / "[bold]x")], "[bold]x: no report yet"),  # the line as written, no markup
        (["review", "serve", "--store", str(tmp / "store")], "no such store (nothing at that path)"),
    ]


@pytest.mark.slow
def test_every_input_mistake_is_one_line_and_exit_status_2_before_any_work(synth_root, tmp_path):
    mistakes = _mistakes(tmp_path, synth_root)
    first = [_eltrepro(*args, cwd=tmp_path) for args, _ in mistakes[:2]]  # as a user types them
    rest = eltrepro_many([args for args, _ in mistakes[2:]], cwd=tmp_path)  # the same entry point, one process
    for (args, expected), result in zip(mistakes, first + rest, strict=True):
        where = f"eltrepro {' '.join(args)}"
        assert result.returncode == 2, f"{where}: {result.returncode}\n{result.stderr}"
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, where
        assert expected in result.stderr, f"{where}: {result.stderr}"
        assert result.stdout == "", where
    assert not (tmp_path / "store").exists() and not (tmp_path / "o").exists()  # nothing ran
    assert not (tmp_path / "code-ran").exists()  # the hostile checkpoint's code never ran


def test_stage_commands_come_from_the_definitions(tmp_path, publish_twin):
    from kit.store import Store
    from landmark_core.synth.dataset import SynthConfig

    listed = runner.invoke(app, ["stage", "list"])
    assert listed.exit_code == 0 and "train_landmarks v2" in listed.output and "augmented?" in listed.output
    shown = runner.invoke(app, ["stage", "show", "evaluate_landmarks"])
    assert shown.exit_code == 0 and "landmark_core.heatmap" in shown.output
    twin = publish_twin(Store(tmp_path), SynthConfig(train=2, test=2, seed=1))
    args = ["stage", "run", "index_wflw", "--store", str(tmp_path), "--input", f"dataset=synth_wflw/{twin.dataset.key}"]
    ran = runner.invoke(app, args)
    assert ran.exit_code == 0, ran.output
    assert f"index_wflw/{twin.index.key} (already complete)" in ran.output  # the flow's key, from the definition


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
