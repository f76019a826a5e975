"""The commands that use the trained models: ``eltrepro predict`` (landmarks on photos and videos), ``eltrepro
compare`` (rows side by side on the same faces) and ``eltrepro export`` (a run's network as a file).

A model is picked by ``--row`` (and ``--seed``) from the newest report of ``--store`` (or ``--report KEY``), or
given as ``--checkpoint PATH`` (a ``best.pt``). Checkpoints load through the project's weights-only loader.

Every argument is checked before any work, and a mistake is one line (exit status 2): a store that does not
exist (it is opened read-only, so a failed command leaves no empty store behind), a row, seed or report it does
not have, ``--seed``/``--report`` with ``--checkpoint``, a malformed or impossible boxes CSV, an ``--out`` that is
a file, lies under a file or cannot be written, and output files that exist already: they are replaced only with
``--force``. Nothing is created before the work starts.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import (
    check_out_folder,
    existing_store,
    parse_fraction,
    parse_int,
    refuse_replacing,
)
from landmark_core.config import ConfigError

FORMATS = ("onnx", "torchscript")
BOXES_HELP = (
    "CSV of face boxes (image, x_min, y_min, x_max, y_max) instead of dlib. A box that is not finite or less than a"
    " pixel wide refuses the file; one reaching past the photo by more than half its size is skipped."
)
FORCE_HELP = "Replace output files that exist already (without it the command refuses before any work)."


@dataclass(frozen=True)
class ModelSource:
    """A model found but not loaded yet.

    Attributes:
        checkpoint: its ``best.pt``.
        origin: where it came from (store, row, seed, keys, test metrics; or the checkpoint's path).
        name: a file name for it: ``<row>-seed<seed>``, or the checkpoint's stem.
    """

    checkpoint: Path
    origin: dict
    name: str


def find_model(
    *, store: str, row: str | None, seed: int | None, report: str | None, checkpoint: Path | None
) -> ModelSource:
    """The model the options name, found without loading it (the store is opened read-only).

    Args:
        store: the ``--store`` path or URL (used with ``row``).
        row: a row of the store's report, or None.
        seed: the row's seed (None: its lowest).
        report: a report's key (None: the newest).
        checkpoint: a checkpoint file instead of ``row``.

    Returns:
        The checkpoint and where it came from.

    Raises:
        ConfigError: neither or both of ``--row`` and ``--checkpoint``, ``--seed``/``--report`` with
            ``--checkpoint``, a missing file or store, an unknown row, seed or report (one line).
    """
    from elt_models.trained_runs import find_run

    if (row is None) == (checkpoint is None):
        raise ConfigError("give --row (a run of the store's report) or --checkpoint PATH, not both")
    if checkpoint is not None:
        extra = next((o for o, v in (("--seed", seed), ("--report", report)) if v is not None), None)
        if extra:
            raise ConfigError(f"{extra} goes with --row; a --checkpoint is one run already")
        if not checkpoint.is_file():
            raise ConfigError(f"--checkpoint {checkpoint}: no such file")
        return ModelSource(checkpoint=checkpoint, origin={"checkpoint": str(checkpoint)}, name=checkpoint.stem)
    run = find_run(existing_store(store), row=row, seed=seed, report=report)
    from landmark_core.export import run_file_name  # torch: after the store and the row are checked

    origin = {"store": store, **run.describe()}
    return ModelSource(checkpoint=run.checkpoint, origin=origin, name=run_file_name(row=run.row, seed=run.seed))


def load_source(source: ModelSource):
    """(model on the CPU in eval mode, its TrainConfig) of a found model."""
    from landmark_core.train import load_checkpoint

    model, config, _ = load_checkpoint(source.checkpoint, device="cpu")
    return model.eval(), config


def load_model(*, store: str, row: str | None, seed: int | None, report: str | None, checkpoint: Path | None):
    """(model on the CPU, its TrainConfig, where it came from) for the options of a command.

    Raises:
        ConfigError: as ``find_model``.
    """
    source = find_model(store=store, row=row, seed=seed, report=report, checkpoint=checkpoint)
    model, config = load_source(source)
    return model, config, source.origin


def register(app: typer.Typer) -> None:
    """Add the commands that use trained models to ``app``."""
    app.command("export")(export)
    app.command("predict")(predict)
    app.command("compare")(compare)


def export(
    fmt: str = typer.Option(..., "--format", help="onnx (runs in onnxruntime) or torchscript (torch.jit.load)."),
    row: str = typer.Option(None, help="The matrix row whose model to export (from the store's report)."),
    seed: str = typer.Option(None, metavar="INTEGER", help="The run's seed (default: the row's lowest)."),
    store: str = typer.Option("artifacts", help="Artifact store holding the report and the runs."),
    report: str = typer.Option(None, help="A report's key (default: the newest)."),
    checkpoint: Path = typer.Option(None, help="A checkpoint file instead of --row."),
    out: Path = typer.Option(Path("exports"), help="Folder for the model file and its JSON card."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Write a run's network (crops in; heatmaps and decoded landmarks out) and a JSON card beside it, named
    <row>-seed<seed>.onnx (or .pt) (or after the checkpoint)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    missing = [m for m in ("onnx", "onnxscript") if fmt == "onnx" and importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"--format onnx needs {', '.join(missing)}: pip install -e .[export]")
    source = find_model(
        store=store, row=row, seed=parse_int(seed, option="--seed"), report=report, checkpoint=checkpoint
    )
    check_out_folder(out)
    from landmark_core.export import card_path, export_model, export_path, model_card, write_card  # torch

    path = export_path(out=out / source.name, fmt=fmt)
    if os.path.realpath(path) == os.path.realpath(source.checkpoint):
        raise ConfigError(f"--out {out}: the export {path} would replace the checkpoint itself; choose another --out")
    refuse_replacing([path, card_path(path)], force=force)
    model, config = load_source(source)
    path = export_model(model=model, config=config, out=out / source.name, fmt=fmt)
    card = write_card(path, model_card(config=config, fmt=fmt, run=source.origin))
    console.print(f"{path}\n{card}")


def predict(
    inputs: list[Path] = typer.Argument(..., help="Photos, videos, or folders of them."),
    row: str = typer.Option(None, help="The matrix row whose model to use (from the store's report)."),
    seed: str = typer.Option(None, metavar="INTEGER", help="The run's seed (default: the row's lowest)."),
    store: str = typer.Option("artifacts", help="Artifact store holding the report and the runs."),
    report: str = typer.Option(None, help="A report's key (default: the newest)."),
    checkpoint: Path = typer.Option(None, help="A checkpoint file instead of --row."),
    boxes: Path = typer.Option(None, help=BOXES_HELP),
    out: Path = typer.Option(Path("predictions"), help="Folder for the landmarks, overlays and skipped.csv."),
    smooth: str = typer.Option(
        None, metavar="FLOAT", help="Smooth video landmarks: the new frame's weight, above 0 and at most 1."
    ),
    device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """98 landmarks per face (photo pixels, WFLW order) as CSV and JSON per input, with an overlay image/video,
    under --out in the inputs' own folder structure (a/x.jpg -> a/x.jpg.csv); whatever is not
    processed is a line of skipped.csv with its reason."""
    from elt_models.inputs import output_files
    from landmark_core.device import resolve_device

    alpha = parse_fraction(smooth, option="--smooth")
    found = _find_inputs(inputs, out=out, what="photo or video")
    given = _given_boxes(boxes)
    source = find_model(
        store=store, row=row, seed=parse_int(seed, option="--seed"), report=report, checkpoint=checkpoint
    )
    target = resolve_device(device)
    check_out_folder(out)
    refuse_replacing(output_files(found.files, out), force=force)
    from elt_models import predict as predicting  # torch and OpenCV: after every input is checked

    model, config = load_source(source)
    _quiet_opencv()
    predictor = predicting.Predictor(
        model=model.to(target), config=config, device=target, detect=None if given else predicting.dlib_boxes()
    )
    skipped = _run_predictions(predictor, found, out, given=given, smooth=alpha)
    for _, line in skipped.iterrows():
        frame = f" frame {line['frame']}" if line["frame"] != "" else ""
        console.print(f"skipped {line['input']}{frame}: {line['reason']}")
    model_name = source.origin.get("run", source.origin.get("checkpoint"))
    console.print(_predict_summary(skipped, inputs=len(found.files), model=model_name, out=out))


def _run_predictions(predictor, found, out: Path, *, given, smooth: float | None):
    """``predict_inputs`` with a progress bar (one step per photo and per video frame)."""
    from rich.progress import Progress

    from elt_models import predict as predicting
    from elt_models.inputs import VIDEOS

    videos = VIDEOS
    steps = sum(predicting.frame_count(p) if p.suffix.lower() in videos else 1 for p in found.files)
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("predicting", total=steps or None)
        return predicting.predict_inputs(
            predictor,
            found.files,
            out,
            given=given,
            smooth=smooth,
            on_step=lambda: progress.advance(bar),
            skipped=found.skipped,
        )


def _predict_summary(skipped, *, inputs: int, model: str, out: Path) -> str:
    """The last line of ``predict``: faces, inputs, model, where; says so plainly when no face was found."""
    faces = skipped.attrs.get("faces", 0)
    found = f"{faces} face(s) from {inputs} input(s)" if faces else f"no face found in {inputs} input(s)"
    lines = f"{len(skipped)} skipped line(s) in {out / 'skipped.csv'}" if len(skipped) else "nothing skipped"
    return f"{found} with {model}: landmarks and overlays in {out} ({lines})"


def compare(
    inputs: list[Path] = typer.Argument(..., help="Photos, or folders of them."),
    rows: list[str] = typer.Option(..., "--row", help="A row to compare (twice or more)."),
    seed: str = typer.Option(None, metavar="INTEGER", help="The runs' seed (default: each row's lowest)."),
    store: str = typer.Option("artifacts", help="Artifact store holding the report and the runs."),
    report: str = typer.Option(None, help="A report's key (default: the newest)."),
    boxes: Path = typer.Option(None, help=BOXES_HELP),
    out: Path = typer.Option(Path("compare"), help="Folder for compare.html, disagreement.csv and skipped.csv."),
    top: str = typer.Option("60", metavar="INTEGER", help="Faces shown on the page, 1 or more (the CSV lists all)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Rows side by side on the same faces, most disagreeing faces first (an HTML page and a CSV); whatever is
    not compared is a line of skipped.csv with its reason."""
    if len(rows) < 2:
        raise ConfigError("--row: give two rows or more to compare")
    twice = next((r for k, r in enumerate(rows) if r in rows[:k]), None)
    if twice is not None:
        raise ConfigError(f"--row {twice!r}: given twice; compare different rows")
    shown = parse_int(top, option="--top", minimum=1)
    found = _find_inputs(inputs, out=out, what="photo")
    given = _given_boxes(boxes)
    number = parse_int(seed, option="--seed")
    sources = [find_model(store=store, row=r, seed=number, report=report, checkpoint=None) for r in rows]
    check_out_folder(out)
    written = [out / "compare.html", out / "disagreement.csv", out / "skipped.csv"]
    refuse_replacing(written, force=force)
    from elt_models import compare_page  # torch and OpenCV: after every input is checked
    from elt_models import predict as predicting
    from landmark_core.atomic import atomic_write_text

    _quiet_opencv()
    detect = None if given else predicting.dlib_boxes()
    predictors = []
    for source in sources:
        model, config = load_source(source)
        predictors.append(predicting.Predictor(model=model, config=config, device=_cpu(), detect=detect))
    faces, skipped = compare_page.predict_rows(predictors, found.files, given=given)
    skipped = [{"input": line["input"], "reason": line["reason"]} for line in found.skipped] + skipped
    out.mkdir(parents=True, exist_ok=True)
    table = compare_page.disagreement_table(faces, rows)
    atomic_write_text(out / "disagreement.csv", table.to_csv(index=False))
    details = [_run_detail(source.origin) for source in sources]
    atomic_write_text(
        out / "compare.html", compare_page.compare_html(faces=faces, rows=rows, details=details, top=shown)
    )
    atomic_write_text(out / "skipped.csv", _skipped_csv(skipped))
    for line in skipped:
        console.print(f"skipped {line['input']}: {line['reason']}")
    console.print(
        (f"{len(faces)} face(s) compared" if faces else "no face found in any photo") + f": {out / 'compare.html'}"
    )


def _run_detail(origin: dict) -> str:
    """A row's legend line on the compare page: its run and test NME (left out when there is none)."""
    nme = origin["test_metrics"].get("nme")
    return f"({origin['run']}" + (f", test NME {nme:.2f} %)" if nme is not None else ")")


def _skipped_csv(skipped: list[dict]) -> str:
    import pandas as pd

    return pd.DataFrame(skipped, columns=["input", "reason"]).to_csv(index=False)


def _find_inputs(inputs: list[Path], *, out: Path, what: str):
    """``find_inputs`` of the named paths; ConfigError (one line) when none of them is a ``what``."""
    from elt_models.inputs import find_inputs

    found = find_inputs(inputs, exclude=out)
    if not found.files:
        message = f"{' '.join(map(str, inputs))}: no {what}"
        if found.skipped:
            first, more = found.skipped[0], len(found.skipped) - 1
            message += f" ({first['input']}: {first['reason']}" + (f"; {more} more skipped)" if more else ")")
        raise ConfigError(message)
    return found


def _quiet_opencv() -> None:
    """Silence OpenCV's own log lines: every file it cannot decode is already a line of skipped.csv."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def _cpu():
    import torch

    return torch.device("cpu")


def _given_boxes(boxes: Path | None):
    """The ``--boxes`` CSV read and checked, or None; ConfigError (one line) for a missing or malformed file."""
    if boxes is None:
        return None
    from elt_models.boxes import read_boxes

    if not boxes.is_file():
        raise ConfigError(f"--boxes {boxes}: no such file")
    try:
        return read_boxes(boxes)
    except ValueError as error:
        raise ConfigError(f"--boxes {error}") from None
