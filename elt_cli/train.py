"""``eltrepro train`` and ``eltrepro evaluate``: the landmark core behind a command line.

Input mistakes (a missing config file, a bad value, an unknown device, a folder without WFLW) raise
``ConfigError`` before any heavy import, so ``eltrepro`` prints one line and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from elt_cli.console import console
from landmark_core.config import ConfigError, load_config, override
from landmark_core.device import check_device

if TYPE_CHECKING:  # the configs import OpenCV: loaded when a command runs, not for --help
    from landmark_core.train_config import TrainConfig

NORMALISERS = ("inter_ocular", "inter_pupil")


def _faces(data: Path, split: str):
    """The indexed faces of one split of a WFLW root (ConfigError when there are none)."""
    from landmark_core.wflw_index import index_wflw

    try:
        result = index_wflw(root=data)
    except FileNotFoundError as error:
        raise ConfigError(str(error)) from None
    if len(result.quarantine):
        console.print(f"{len(result.quarantine)} annotation lines quarantined (see `eltrepro data index`)")
    faces = result.faces[result.faces["split"] == split]
    if faces.empty:
        raise ConfigError(f"{data}: no usable {split} faces")
    return faces


def _config(path: Path | None, epochs: int | None, workers: int | None) -> TrainConfig:
    from landmark_core.train_config import TrainConfig

    config = load_config(TrainConfig, path) if path else TrainConfig()
    return override(config, changes={"max_epochs": ("--epochs", epochs), "workers": ("--workers", workers)})


def train_command(
    data: Path = typer.Option(..., help="WFLW root (real or synthetic) holding WFLW_images/ and WFLW_annotations/."),
    out: Path = typer.Option(..., help="Run folder: config.json, history.jsonl, last.pt, best.pt."),
    config: Path = typer.Option(None, help="TOML or JSON file with TrainConfig sections (model, augment, loss)."),
    epochs: int = typer.Option(None, help="Override max_epochs (the total, counting epochs before a resume)."),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ..."),
    workers: int = typer.Option(None, help="Override the data-loader worker processes."),
    resume: bool = typer.Option(True, help="Continue from out/last.pt when it exists."),
) -> None:
    """Train the cascaded landmark network (baseline when loss.elt_lambda is 0, ELT otherwise)."""
    check_device(device)
    cfg = _config(config, epochs, workers)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from landmark_core.dataset import face_records
    from landmark_core.device import resolve_device
    from landmark_core.train import BEST, HISTORY_FILE, EpochRecord, split_validation, train
    from tasks.train_landmarks import training_faces

    target = resolve_device(device)
    _fast_matmul()
    records = face_records(root=data, faces=_faces(data, "train"))
    train_part, val = split_validation(records=records, fraction=cfg.val_fraction, seed=cfg.seed)
    train_part, _ = training_faces(config=cfg, train_part=train_part, val=val, augmented=None)  # as the stage
    hidden = sum(not r.labelled for r in train_part)
    console.print(
        f"training on {len(train_part)} faces ({hidden} unlabelled), validating on {len(val)}, device {target}, "
        f"ELT lambda {cfg.loss.elt_lambda} ({cfg.loss.elt_mode}), views {cfg.augment.views}"
    )
    columns = (TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("train", total=None, epoch=0)

        def on_batch(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        def on_epoch(r: EpochRecord) -> None:
            progress.update(task, completed=0, epoch=r.epoch + 1)
            progress.console.print(
                f"epoch {r.epoch:4d}  loss {r.loss:.4f} (gt {r.loss_gt:.4f}, elt {r.loss_elt:.4f})  "
                f"val NME {100 * r.val_nme:.2f} % (best {100 * r.best_val_nme:.2f} %)  lr {r.lr:.0e}  "
                f"{r.images_per_second:.1f} img/s"
            )

        history = train(
            config=cfg,
            train_records=train_part,
            val_records=val,
            out=out,
            device=target,
            resume=resume,
            on_batch=on_batch,
            on_epoch=on_epoch,
        )
    best = min(history, key=lambda r: r.val_nme) if history else None
    if best:
        console.print(
            f"done: {len(history)} epochs, best val NME {100 * best.val_nme:.2f} % at epoch {best.epoch}; "
            f"per-epoch log {out / HISTORY_FILE}, checkpoint {out / BEST}"
        )


def evaluate_command(
    checkpoint: Path = typer.Option(..., help="A checkpoint written by `eltrepro train` (best.pt or last.pt)."),
    data: Path = typer.Option(..., help="WFLW root to evaluate on."),
    out: Path = typer.Option(..., help="Folder for per_face.parquet, metrics.csv and metrics.md."),
    split: str = typer.Option("test", help="Which split to evaluate."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, ..."),
    normaliser: str = typer.Option("inter_ocular", help="inter_ocular (outer eye corners 60/72) or inter_pupil."),
) -> None:
    """Per-face errors and the study's metrics (NME, NME90/95/99, FR@10, AUC@10) for every subset."""
    if normaliser not in NORMALISERS:
        raise ConfigError(f"--normaliser {normaliser!r}: expected one of {', '.join(NORMALISERS)}")
    if not checkpoint.is_file():
        raise ConfigError(f"{checkpoint}: no such checkpoint")
    check_device(device)
    from landmark_core.atomic import atomic_write
    from landmark_core.dataset import face_records
    from landmark_core.device import resolve_device
    from landmark_core.evaluate import evaluate_faces, metric_table, to_markdown, write_metric_files
    from landmark_core.model import parameter_count
    from landmark_core.subsets import SUBSETS, SubsetConfig, compute_subsets
    from landmark_core.train import load_checkpoint

    target = resolve_device(device)
    _fast_matmul()
    model, cfg, _ = load_checkpoint(checkpoint, device=target)
    faces = _faces(data, split)
    per_face = evaluate_faces(
        model=model,
        records=face_records(root=data, faces=faces),
        subsets=compute_subsets(faces=faces, config=SubsetConfig()),
        augment=cfg.augment,
        device=target,
        batch_size=cfg.eval_batch_size,
        decoding=cfg.decoding,
    )
    table = metric_table(per_face=per_face, subsets=SUBSETS, normaliser=normaliser)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "per_face.parquet", lambda p: per_face.to_parquet(p, index=False))
    write_metric_files(table=table, out=out, title=f"{checkpoint} on {data} ({split})")
    console.print(to_markdown(table, title=f"{split} split, {len(per_face)} faces, {normaliser} NME"))
    console.print(
        f"model parameters: {parameter_count(model):,}; wrote {out}/per_face.parquet, metrics.csv, metrics.md"
    )


def _fast_matmul() -> None:
    """TF32 matmuls on CUDA (no effect on the CPU)."""
    import torch

    torch.set_float32_matmul_precision("high")


def register(app: typer.Typer) -> None:
    """Add the commands to the main ``eltrepro`` app."""
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
