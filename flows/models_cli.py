"""``eltrepro export`` (and the other commands that use the trained models): a run's network as a file.

A model is picked by ``--row`` (and ``--seed``) from the newest report of ``--store`` (or ``--report KEY``), or
given as ``--checkpoint PATH`` (a ``best.pt``). Checkpoints load through the project's weights-only loader.
"""

from __future__ import annotations

from pathlib import Path

import typer

from flows.console import console
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
    from flows.trained_runs import find_run

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
