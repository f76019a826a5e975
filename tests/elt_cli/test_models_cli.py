"""``eltrepro predict``, ``compare`` and ``export`` as a user runs them: outputs (never one replacing another
without ``--force``), and input mistakes (``--out``, ``--store``, ``--row``, ``--seed``, numbers, boxes) as one
line with exit status 2, before any work and creating nothing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from elt_cli.main import app, input_errors
from elt_models.trained_runs import find_run
from kit.store import Store
from landmark_core.wflw import IMAGES_DIR
from landmark_core.wflw_index import index_wflw
from tests.elt_cli.test_cli import eltrepro_many

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
    assert len(list((tmp_path / "o").glob("*.jpg.overlay.jpg"))) == 3
    skipped = pd.read_csv(tmp_path / "o" / "skipped.csv")
    assert "not a photo or video (.txt)" in set(skipped["reason"])  # every file of the folder is accounted for
    assert set(skipped["reason"]) <= {"no face found", "not a photo or video (.txt)"}


@pytest.mark.slow
def test_mistakes_are_one_line(trained_runs_store, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "p.jpg").write_bytes(b"x")
    (tmp_path / "boxes.csv").write_text("image,x_min\np.jpg,1\n")
    (tmp_path / "nan.csv").write_text("image,x_min,y_min,x_max,y_max\np.jpg,1,2,30,40\np.jpg,nan,2,30,40\n")
    (tmp_path / "a-file").write_text("x")
    checkpoint = str(find_run(trained_runs_store, row="elt").checkpoint)
    store = ["--store", trained_runs_store.url]
    torchscript = ["export", "--format", "torchscript", "--row", "elt", *store]
    cases = [
        (["predict", "p.jpg", "--row", "elt", *store, "--out", "a-file"], "--out a-file: a file, not a folder"),
        ([*torchscript, "--out", "a-file/x"], "--out a-file/x: "),
        ([*torchscript, "--seed", "abc"], "--seed 'abc': expected a whole number"),
        (["predict", "p.jpg", "--row", "elt", "--store", "absent"], "--store absent: no such store"),
        (["compare", "p.jpg", "--row", "elt", "--row", "baseline", "--store", "absent"], "--store absent: no such"),
        (["predict", "p.jpg", "--checkpoint", checkpoint, "--boxes", "nan.csv"], "nan.csv line 3: x_min = 'nan'"),
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
    for (args, fragment), result in zip(cases, eltrepro_many([args for args, _ in cases], cwd=tmp_path), strict=True):
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "boxes.csv", "empty", "nan.csv", "p.jpg"]


def _refused(args: list[str], fragment: str) -> str:
    """Run a command in-process; it must stop with an input error of one line holding ``fragment``."""
    result = runner.invoke(app, args)
    assert isinstance(result.exception, input_errors()), (args, result.output, repr(result.exception))
    message = str(result.exception)
    assert fragment in message and "\n" not in message, (args, message)
    return message


def _photo_with_box(synth_root: Path, folder: Path) -> tuple[Path, Path]:
    """A twin test photo copied into ``folder`` and a boxes CSV with its WFLW box (no detector needed)."""
    faces = index_wflw(root=synth_root).faces
    face = faces[faces["split"] == "test"].iloc[0]
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / Path(face["image_path"]).name
    photo.write_bytes((synth_root / face["image_path"]).read_bytes())
    boxes = folder.parent / "boxes.csv"
    pd.DataFrame(
        {"image": [photo.name], **{c: [face[f"bbox_{c}"]] for c in ("x_min", "y_min", "x_max", "y_max")}}
    ).to_csv(boxes, index=False)
    return photo, boxes


def _commands(store: Store, photo: Path, out: Path) -> dict[str, list[str]]:
    """Each model command, ready to run on ``photo`` (or the store's row) into ``out``."""
    return {
        "predict": ["predict", str(photo), "--row", "elt", "--store", store.url, "--out", str(out)],
        "compare": [
            "compare",
            str(photo),
            "--row",
            "elt",
            "--row",
            "baseline",
            "--store",
            store.url,
            "--out",
            str(out),
        ],
        "export": ["export", "--format", "torchscript", "--row", "elt", "--store", store.url, "--out", str(out)],
    }


@pytest.mark.parametrize("command", ["predict", "compare", "export"])
def test_an_out_that_cannot_be_a_folder_is_one_line_and_nothing_is_made(trained_runs_store, tmp_path, command):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x")
    (tmp_path / "a-file").write_text("x")
    args = _commands(trained_runs_store, photo, tmp_path / "unused")[command][:-1]
    _refused([*args, str(tmp_path / "a-file")], f"--out {tmp_path / 'a-file'}: a file, not a folder")
    below = tmp_path / "a-file" / "sub" / "out"
    _refused([*args, str(below)], f"--out {below}: {tmp_path / 'a-file'} is a file, not a folder")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    _refused([*args, str(tmp_path / "broken")], "a broken link, not a folder")
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "unused").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a folder without write permission")
@pytest.mark.parametrize("command", ["predict", "compare", "export"])
def test_an_out_in_a_folder_one_cannot_write_is_one_line(trained_runs_store, tmp_path, command):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x")
    try:
        args = _commands(trained_runs_store, photo, locked / "out")[command]
        _refused(args, f"cannot write in {locked} (permission denied)")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("command", ["predict", "compare", "export"])
def test_a_store_that_does_not_exist_is_one_line_and_stays_absent(trained_runs_store, tmp_path, command):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x")
    args = _commands(trained_runs_store, photo, tmp_path / "out")[command]
    missing = tmp_path / "no" / "store"
    args[args.index("--store") + 1] = str(missing)
    _refused(args, f"--store {missing}: no such store (nothing at that path)")
    assert not (tmp_path / "no").exists() and not (tmp_path / "out").exists()


def test_report_and_review_apply_create_no_store(tmp_path):
    missing = tmp_path / "store"
    _refused(["report", "--store", str(missing)], "no report yet")
    (tmp_path / "decisions.csv").write_text("face_id,decision\nf1,accept\n")
    args = ["review", "apply", "--decisions", str(tmp_path / "decisions.csv"), "--store", str(missing)]
    _refused(args, f"--store {missing}: no such store")
    assert not missing.exists()


def test_number_and_choice_mistakes_are_one_line(trained_runs_store, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x")
    commands = _commands(trained_runs_store, photo, tmp_path / "out")
    checkpoint = str(find_run(trained_runs_store, row="elt").checkpoint)
    for command in ("predict", "compare", "export"):
        _refused([*commands[command], "--seed", "abc"], "--seed 'abc': expected a whole number")
        _refused([*commands[command], "--seed", "7"], "--seed 7: row")
    _refused([*commands["compare"], "--top", "0"], "--top 0: expected 1 or more")
    _refused([*commands["compare"], "--top", "many"], "--top 'many': expected a whole number")
    _refused([*commands["predict"], "--smooth", "0"], "--smooth '0': expected a number above 0 and at most 1")
    _refused([*commands["predict"], "--smooth", "nan"], "--smooth 'nan': expected a number above 0")
    _refused([*commands["predict"], "--device", "tpu"], "device 'tpu' is not one of")
    with_checkpoint = ["predict", str(photo), "--checkpoint", checkpoint, "--out", str(tmp_path / "out")]
    _refused([*with_checkpoint, "--seed", "1"], "--seed goes with --row; a --checkpoint is one run already")
    _refused([*with_checkpoint, "--report", "abc"], "--report goes with --row")
    twice = ["compare", str(photo), "--row", "elt", "--row", "elt", "--store", trained_runs_store.url]
    _refused(twice, "--row 'elt': given twice")
    _refused([*commands["export"], "--report", "nokey"], "no report with key nokey")
    assert not (tmp_path / "out").exists()


def test_a_boxes_csv_with_a_bad_box_is_refused_naming_its_line(trained_runs_store, synth_root, tmp_path):
    photo, boxes = _photo_with_box(synth_root, tmp_path / "in")
    text = boxes.read_text()
    for bad, message in [
        ("nan,1,20,20", "line 3: x_min = 'nan' is not a finite number"),
        ("30,1,20,20", "line 3: box (30, 1, 20, 20) must be at least a pixel wide and high"),
    ]:
        boxes.write_text(text + f"{photo.name},{bad}\n")
        for command in ("predict", "compare"):
            args = _commands(trained_runs_store, photo, tmp_path / "out")[command]
            _refused([*args, "--boxes", str(boxes)], f"--boxes {boxes} {message}")
    assert not (tmp_path / "out").exists()


def test_outputs_are_replaced_only_with_force(trained_runs_store, synth_root, tmp_path):
    photo, boxes = _photo_with_box(synth_root, tmp_path / "in")
    commands = _commands(trained_runs_store, photo, tmp_path / "out")
    for command in ("predict", "compare", "export"):
        out = tmp_path / command
        args = [*commands[command][:-1], str(out), *(["--boxes", str(boxes)] if command != "export" else [])]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        written = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        _refused(args, "would be replaced; give --force to replace them")
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == written  # nothing touched
        forced = runner.invoke(app, [*args, "--force"])
        assert forced.exit_code == 0, forced.output
    assert (tmp_path / "predict" / f"{photo.name}.csv").is_file()
    assert pd.read_csv(tmp_path / "compare" / "skipped.csv").empty


def test_every_seed_exports_to_its_own_file(trained_runs_store, tmp_path):
    for seed in ("0", "1"):
        args = ["export", "--format", "torchscript", "--row", "baseline", "--seed", seed]
        result = runner.invoke(app, [*args, "--store", trained_runs_store.url, "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "baseline-seed0.pt",
        "baseline-seed0.pt.json",
        "baseline-seed1.pt",
        "baseline-seed1.pt.json",
    ]


def test_an_export_never_replaces_its_own_checkpoint(trained_runs_store, tmp_path):
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(find_run(trained_runs_store, row="elt").checkpoint.read_bytes())
    args = ["export", "--format", "torchscript", "--checkpoint", str(checkpoint), "--out", str(tmp_path), "--force"]
    _refused(args, "would replace the checkpoint itself")


def test_predict_accounts_for_every_entry_of_a_folder_and_says_when_no_face_was_found(
    trained_runs_store, synth_root, tmp_path
):
    photo, boxes = _photo_with_box(synth_root, tmp_path / "in" / "a")
    boxes = boxes.rename(tmp_path / "boxes.csv")  # out of the folder of inputs
    (tmp_path / "in" / "b").mkdir()
    (tmp_path / "in" / "b" / photo.name).write_bytes(photo.read_bytes())  # the same name, another folder
    (tmp_path / "in" / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "in" / "loop.jpg").symlink_to(tmp_path / "in" / "loop.jpg")
    (tmp_path / "in" / "notes.txt").write_text("x")
    box = pd.read_csv(boxes).iloc[0, 1:].tolist()
    boxes.write_text(f"image,x_min,y_min,x_max,y_max\na/{photo.name},{','.join(map(str, box))}\n")  # a only
    checkpoint = str(find_run(trained_runs_store, row="elt").checkpoint)
    args = ["predict", str(tmp_path / "in"), "--checkpoint", checkpoint, "--boxes", str(boxes)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv", keep_default_na=False)
    assert sorted(Path(p).name for p in skipped["input"]) == sorted(
        ["dangling.jpg", "loop.jpg", "notes.txt", photo.name]
    )
    assert len(pd.read_csv(tmp_path / "out" / "a" / f"{photo.name}.csv")) == 1
    assert pd.read_csv(tmp_path / "out" / "b" / f"{photo.name}.csv").empty  # b's photo: no box for it
    assert "no box given for it" in set(skipped["reason"])
    assert f"1 face(s) from 2 input(s) with {checkpoint}" in " ".join(result.output.split())  # lines wrap
    assert "nan" not in result.output.lower()
    empty = runner.invoke(app, [*args[:-2], "--boxes", str(_no_boxes(tmp_path)), "--out", str(tmp_path / "o2")])
    assert empty.exit_code == 0, empty.output
    assert "no face found in 2 input(s)" in " ".join(empty.output.split()) and "nan" not in empty.output.lower()


def _no_boxes(tmp_path: Path) -> Path:
    (tmp_path / "none.csv").write_text("image,x_min,y_min,x_max,y_max\n")
    return tmp_path / "none.csv"


def test_onnx_without_its_packages_is_one_line_before_any_work(trained_runs_store, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    args = [
        "export",
        "--format",
        "onnx",
        "--row",
        "elt",
        "--store",
        trained_runs_store.url,
        "--out",
        str(tmp_path / "x"),
    ]
    _refused(args, "--format onnx needs onnxscript: pip install -e .[export]")
    assert not (tmp_path / "x").exists()
