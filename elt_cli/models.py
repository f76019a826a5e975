"""The commands that use the trained models: ``eltrepro predict`` (landmarks on photos and videos), ``eltrepro
compare`` (rows side by side on the same faces) and ``eltrepro export`` (a run's network as a file).

A model is picked by ``--row`` (and ``--seed``) from the newest report of ``--store`` (or ``--report KEY``), or
given as ``--checkpoint PATH`` (a ``best.pt``). Checkpoints load through the project's weights-only loader.
"""

from __future__ import annotations

from pathlib import Path

import typer

from elt_cli.console import console
from landmark_core.config import ConfigError

FORMATS = ("onnx", "torchscript")


def load_model(*, store: str, row: str | None, seed: int | None, report: str | None, checkpoint: Path | None):
    """(model on the CPU, its TrainConfig, where it came from) for the options of a command.

    Raises:
        ConfigError: neither or both of ``--row`` and ``--checkpoint``, a missing file, an unknown row or seed.
    """
    from kit.store import Store
    from landmark_core.train import load_checkpoint

    if (row is None) == (checkpoint is None):
        raise ConfigError("give --row (a run of the store's report) or --checkpoint PATH, not both")
    if checkpoint is not None:
        if not checkpoint.is_file():
            raise ConfigError(f"--checkpoint {checkpoint}: no such file")
        model, config, _ = load_checkpoint(checkpoint, device="cpu")
        return model.eval(), config, {"checkpoint": str(checkpoint)}
    from elt_models.trained_runs import find_run

    run = find_run(Store(store), row=row, seed=seed, report=report)
    model, config, _ = load_checkpoint(run.checkpoint, device="cpu")
    return model.eval(), config, {"store": store, **run.describe()}


def register(app: typer.Typer) -> None:
    """Add the commands that use trained models to ``app``."""

    @app.command("export")
    def export(
        fmt: str = typer.Option(..., "--format", help="onnx (runs in onnxruntime) or torchscript (torch.jit.load)."),
        row: str = typer.Option(None, help="The matrix row whose model to export (from the store's report)."),
        seed: int = typer.Option(None, help="The run's seed (default: the row's lowest)."),
        store: str = typer.Option("artifacts", help="Artifact store holding the report and the runs."),
        report: str = typer.Option(None, help="A report's key (default: the newest)."),
        checkpoint: Path = typer.Option(None, help="A checkpoint file instead of --row."),
        out: Path = typer.Option(Path("exports"), help="Folder for the model file and its JSON card."),
    ) -> None:
        """Write a run's network (crops in; heatmaps and decoded landmarks out) and a JSON card beside it."""
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
        from landmark_core.export import export_model, model_card, write_card

        model, config, origin = load_model(store=store, row=row, seed=seed, report=report, checkpoint=checkpoint)
        name = f"{origin['row']}-seed{origin['seed']}" if "row" in origin else checkpoint.stem
        path = export_model(model=model, config=config, out=out / name, fmt=fmt)
        card = write_card(path, model_card(config=config, fmt=fmt, run=origin))
        console.print(f"{path}\n{card}")

    @app.command("predict")
    def predict(
        inputs: list[Path] = typer.Argument(..., help="Photos, videos, or folders of them."),
        row: str = typer.Option(None, help="The matrix row whose model to use (from the store's report)."),
        seed: int = typer.Option(None, help="The run's seed (default: the row's lowest)."),
        store: str = typer.Option("artifacts", help="Artifact store holding the report and the runs."),
        report: str = typer.Option(None, help="A report's key (default: the newest)."),
        checkpoint: Path = typer.Option(None, help="A checkpoint file instead of --row."),
        boxes: Path = typer.Option(None, help="CSV of face boxes (image, x_min, y_min, x_max, y_max) instead of dlib."),
        out: Path = typer.Option(Path("predictions"), help="Folder for the landmarks, overlays and skipped.csv."),
        smooth: float = typer.Option(None, min=0.01, max=1.0, help="Smooth video landmarks (weight of the new frame)."),
        device: str = typer.Option("cpu", help="cpu, cuda or auto."),
    ) -> None:
        """98 landmarks per face (photo pixels, WFLW order) as CSV and JSON per input, with an overlay image/video."""
        from rich.progress import Progress

        from elt_models import predict as predicting
        from landmark_core.device import resolve_device

        found = predicting.expand_inputs(inputs)
        if not found:
            raise ConfigError(f"{' '.join(map(str, inputs))}: no photo or video")
        given = _given_boxes(boxes)
        model, config, origin = load_model(store=store, row=row, seed=seed, report=report, checkpoint=checkpoint)
        target = resolve_device(device)
        predictor = predicting.Predictor(
            model=model.to(target), config=config, device=target, detect=None if given else predicting.dlib_boxes()
        )
        steps = sum(predicting.frame_count(p) if p.suffix.lower() in predicting.VIDEOS else 1 for p in found)
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("predicting", total=steps or None)
            skipped = predicting.predict_inputs(
                predictor, found, out, given=given, smooth=smooth, on_step=lambda: progress.advance(bar)
            )
        for _, line in skipped.iterrows():
            frame = f" frame {line['frame']}" if line["frame"] != "" else ""
            console.print(f"skipped {line['input']}{frame}: {line['reason']}")
        model_name = origin.get("run", origin.get("checkpoint"))
        console.print(
            f"{len(found)} input(s) with {model_name}: landmarks and overlays in {out} ({len(skipped)} skipped)"
        )

    @app.command("compare")
    def compare(
        inputs: list[Path] = typer.Argument(..., help="Photos, or folders of them."),
        rows: list[str] = typer.Option(..., "--row", help="A row to compare (twice or more)."),
        seed: int = typer.Option(None, help="The runs' seed (default: each row's lowest)."),
        store: str = typer.Option("artifacts", help="Artifact store holding the report and the runs."),
        report: str = typer.Option(None, help="A report's key (default: the newest)."),
        boxes: Path = typer.Option(None, help="CSV of face boxes (image, x_min, y_min, x_max, y_max) instead of dlib."),
        out: Path = typer.Option(Path("compare"), help="Folder for compare.html and disagreement.csv."),
        top: int = typer.Option(60, min=1, help="Faces shown on the page (the CSV lists all)."),
    ) -> None:
        """Rows side by side on the same faces, most disagreeing faces first (an HTML page and a CSV)."""
        from elt_models import compare_page
        from elt_models import predict as predicting
        from landmark_core.atomic import atomic_write_text

        if len(rows) < 2:
            raise ConfigError("--row: give two rows or more to compare")
        found = predicting.expand_inputs(inputs)
        if not found:
            raise ConfigError(f"{' '.join(map(str, inputs))}: no photo")
        given = _given_boxes(boxes)
        detect = None if given else predicting.dlib_boxes()
        predictors, details = [], []
        for row in rows:
            model, config, origin = load_model(store=store, row=row, seed=seed, report=report, checkpoint=None)
            predictors.append(predicting.Predictor(model=model, config=config, device=_cpu(), detect=detect))
            nme = origin["test_metrics"].get("nme")
            details.append(f"({origin['run']}" + (f", test NME {nme:.2f} %)" if nme is not None else ")"))
        faces, skipped = compare_page.predict_rows(predictors, found, given=given)
        out.mkdir(parents=True, exist_ok=True)
        table = compare_page.disagreement_table(faces, rows)
        atomic_write_text(out / "disagreement.csv", table.to_csv(index=False))
        page = compare_page.compare_html(faces=faces, rows=rows, details=details, top=top)
        atomic_write_text(out / "compare.html", page)
        for line in skipped:
            console.print(f"skipped {line['input']}: {line['reason']}")
        console.print(
            (f"{len(faces)} face(s) compared" if faces else "no face found in any photo") + f": {out / 'compare.html'}"
        )


def _cpu():
    import torch

    return torch.device("cpu")


def _given_boxes(boxes: Path | None):
    """The ``--boxes`` CSV read, or None; ConfigError (one line) for a missing or malformed file."""
    if boxes is None:
        return None
    from elt_models.predict import read_boxes

    if not boxes.is_file():
        raise ConfigError(f"--boxes {boxes}: no such file")
    try:
        return read_boxes(boxes)
    except ValueError as error:
        raise ConfigError(str(error)) from None
