"""The training loop: Adam, plateau learning-rate decay with the study's stopping rule, exact resume.

Schedule (section 4.1; all configurable): Adam at lr 1e-3; when the best validation NME has not improved for
``patience`` (30) epochs the lr is multiplied by 0.1; once the lr is at ``min_lr`` (1e-5), ``patience`` more
epochs without improvement stop the run; ``max_epochs`` (1000) is a hard cap. A short fixed budget (the demo)
may instead anneal the lr on a cosine over ``max_epochs`` (``lr_schedule = "cosine"``).

Determinism: parameters are initialised from ``seed``; epoch e shuffles with a generator seeded from (seed,
e) and augments item i from (seed, e, i); the only draws from torch's global generator are the heatmap
drops, and its state is saved in every checkpoint. So resuming from ``last.pt`` continues exactly as an
uninterrupted run would on CPU. On CUDA the loop uses bf16 autocast and channels_last.

Files written to ``out``: ``config.json``, ``history.jsonl`` (one line per epoch), ``last.pt``, ``best.pt`` and
``timing.jsonl`` (seconds and images/s per epoch). Timings are machine facts, kept apart from the other files,
so a run and a resumed run leave byte-identical checkpoints and history. Each file is written to a temporary
name and renamed, so a crash never leaves a torn file.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from landmark_core.atomic import atomic_write, atomic_write_text
from landmark_core.config import from_dict, to_dict
from landmark_core.dataset import FaceRecord, ViewDataset
from landmark_core.losses import landmark_loss
from landmark_core.metrics import nme_per_face
from landmark_core.model import CascadedLandmarkNet, parameter_count
from landmark_core.predict import predict_landmarks, to_input
from landmark_core.sampler import train_copies, train_steps
from landmark_core.train_config import ModelConfig, TrainConfig
from landmark_core.weights_file import load_weights_file

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.jsonl"
TIMING_FILE = "timing.jsonl"
TIMING_FIELDS = ("seconds", "images_per_second")  # machine facts, never in a checkpoint
LAST = "last.pt"
BEST = "best.pt"


@dataclass
class PlateauSchedule:
    """lr decay on a validation plateau, and the stopping rule. ``step`` returns True when training must stop."""

    lr: float
    factor: float
    patience: int
    min_lr: float
    best: float = math.inf
    bad_epochs: int = 0

    def step(self, value: float) -> bool:
        """Record one epoch's validation error."""
        if value < self.best:
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs < self.patience:
            return False
        if self.lr <= self.min_lr * (1 + 1e-9):
            return True
        self.lr, self.bad_epochs = max(self.lr * self.factor, self.min_lr), 0
        return False

    def state_dict(self) -> dict[str, float]:
        """Serialisable state."""
        return {"lr": self.lr, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore ``state_dict``'s output."""
        self.lr, self.best, self.bad_epochs = float(state["lr"]), float(state["best"]), int(state["bad_epochs"])


@dataclass(frozen=True)
class EpochRecord:
    """One line of ``history.jsonl``."""

    epoch: int
    lr: float
    loss: float
    loss_gt: float
    loss_elt: float
    val_nme: float
    best_val_nme: float
    seconds: float
    images_per_second: float


def split_validation(*, records: list[FaceRecord], fraction: float, seed: int) -> tuple[list, list]:
    """A seeded split of training faces into (train, validation); validation has at least one face."""
    order = np.random.default_rng([seed, 7919]).permutation(len(records))
    n_val = max(1, round(fraction * len(records)))
    val = set(order[:n_val].tolist())
    return [r for i, r in enumerate(records) if i not in val], [r for i, r in enumerate(records) if i in val]


def build_model(config: ModelConfig, *, seed: int, device: torch.device) -> CascadedLandmarkNet:
    """A freshly initialised network (seeded), on ``device``."""
    torch.manual_seed(seed)
    model = CascadedLandmarkNet(config).to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def load_checkpoint(path: Path, *, device: torch.device | str = "cpu") -> tuple[CascadedLandmarkNet, TrainConfig, dict]:
    """Model (strict state-dict load), its training config and the raw checkpoint dict."""
    ckpt = load_weights_file(path, what="checkpoint", map_location=device)
    config = from_dict(TrainConfig, ckpt["config"])
    model = CascadedLandmarkNet(config.model).to(device)
    model.load_state_dict(ckpt["model"], strict=True)
    if torch.device(device).type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, config, ckpt


def _validate(model, val: list[FaceRecord], config: TrainConfig, device: torch.device) -> float:
    pred = predict_landmarks(
        model=model,
        records=val,
        augment=config.augment,
        device=device,
        batch_size=config.eval_batch_size,
        workers=config.workers,
        decoding=config.decoding,
    )
    truth = np.stack([r.landmarks for r in val])
    return float(nme_per_face(pred=pred, truth=truth).mean())


def _train_epoch(model, loader, optimizer, config: TrainConfig, device, on_batch, limit: int) -> dict[str, float]:
    """One pass over ``loader``, at most ``limit`` batches (what is left of ``max_steps``)."""
    model.train()
    sums, images, steps = {"loss": 0.0, "loss_gt": 0.0, "loss_elt": 0.0}, 0, 0
    for step, batch in enumerate(loader):
        if step >= limit:
            break
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            stages = model(to_input(batch["image"], device))
        batch = {k: v.to(device) for k, v in batch.items() if k != "image"}
        parts = landmark_loss(stages=stages, batch=batch, config=config.loss, views=config.augment.views)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        for key, value in (("loss", parts.total), ("loss_gt", parts.gt), ("loss_elt", parts.elt)):
            sums[key] += float(value.detach())
        images += stages[-1].shape[0]
        steps += 1
        if on_batch:
            on_batch(step + 1, len(loader))
    n = max(1, steps)
    return {**{k: v / n for k, v in sums.items()}, "images": images}


def train(
    *,
    config: TrainConfig,
    train_records: list[FaceRecord],
    val_records: list[FaceRecord],
    out: Path,
    device: torch.device,
    resume: bool = False,
    stop_after: int | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> list[EpochRecord]:
    """Train until the stopping rule, ``max_epochs`` or ``stop_after`` epochs in this call.

    Args:
        config: the run's configuration.
        train_records, val_records: faces to fit and to select on.
        out: output folder (created).
        device: where to train.
        resume: continue from ``out/last.pt`` when it exists.
        stop_after: run at most this many epochs in this call (for tests and time-boxed jobs).
        on_batch: progress callback (batch done, batches per epoch).
        on_epoch: called with each epoch's record.

    Returns:
        The full history (including epochs before a resume).
    """
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(config.model, seed=config.seed, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = PlateauSchedule(lr=config.lr, factor=config.lr_factor, patience=config.patience, min_lr=config.min_lr)
    history, start = _maybe_resume(out / LAST, resume, config, model, optimizer, schedule, device)
    timing = _read_timing(out / TIMING_FILE, epochs=start) if start else []
    atomic_write_text(out / CONFIG_FILE, json.dumps(to_dict(config), indent=2))
    dataset = ViewDataset(
        records=train_records,
        steps=train_steps(config.augment),
        size=config.augment.size,
        seed=config.seed,
        antialias=config.augment.antialias,
        copies=train_copies(config.augment),
    )
    stop = bool(history) and history[-1].get("stopped", False)
    epoch, done = start, 0
    while not stop and epoch < config.max_epochs and (stop_after is None or done < stop_after):
        record, stop = _run_epoch(epoch, model, optimizer, schedule, dataset, val_records, config, device, on_batch)
        fields = record.__dict__
        history.append({**{k: v for k, v in fields.items() if k not in TIMING_FIELDS}, "stopped": stop})
        timing.append({k: fields[k] for k in TIMING_FIELDS})
        _write_epoch(out, record, history, model, optimizer, schedule, config)
        atomic_write_text(out / TIMING_FILE, "".join(json.dumps(t) + "\n" for t in timing))
        if on_epoch:
            on_epoch(record)
        epoch, done = epoch + 1, done + 1
    return [
        EpochRecord(**{k: v for k, v in h.items() if k != "stopped"}, **t) for h, t in zip(history, timing, strict=True)
    ]


def _interned(value: Any) -> Any:
    """``value`` with every string interned: pickle writes a string seen before as a back-reference, so the
    same checkpoint content gives the same bytes whether its strings came from code or from a loaded file."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        return {_interned(k): _interned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_interned(v) for v in value)
    return value


def _read_timing(path: Path, *, epochs: int) -> list[dict[str, float]]:
    """The timings of the first ``epochs`` epochs (zeros where the file is missing or short)."""
    lines = path.read_text().splitlines() if path.exists() else []
    known = [json.loads(line) for line in lines[:epochs]]
    return known + [dict.fromkeys(TIMING_FIELDS, 0.0)] * (epochs - len(known))


RESUMABLE_CHANGES = ("max_epochs", "workers", "eval_batch_size")  # may differ between a run and its resume


def _maybe_resume(path: Path, resume: bool, config: TrainConfig, model, optimizer, schedule, device):
    if not (resume and path.exists()):
        return [], 0
    ckpt = load_weights_file(path, what="checkpoint", map_location=device)
    saved, wanted = ckpt["config"], to_dict(config)
    changed = sorted(k for k in wanted if k not in RESUMABLE_CHANGES and saved.get(k) != wanted[k])
    if changed:
        raise ValueError(f"{path}: cannot resume, the config differs in {changed}; use a new output folder")
    model.load_state_dict(ckpt["model"], strict=True)
    optimizer.load_state_dict(ckpt["optimizer"])
    schedule.load_state_dict(ckpt["schedule"])
    torch.set_rng_state(ckpt["torch_rng"])
    if device.type == "cuda" and ckpt.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
    return list(ckpt["history"]), int(ckpt["epoch"]) + 1


def epoch_lr(*, config: TrainConfig, epoch: int, plateau: PlateauSchedule) -> float:
    """The learning rate of ``epoch``: the plateau schedule's current value, or the cosine annealing's."""
    if config.lr_schedule == "plateau":
        return plateau.lr
    progress = epoch / config.max_epochs
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _run_epoch(epoch, model, optimizer, schedule, dataset, val_records, config, device, on_batch):
    lr = epoch_lr(config=config, epoch=epoch, plateau=schedule)
    for group in optimizer.param_groups:
        group["lr"] = lr
    dataset.set_epoch(epoch)
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=config.workers,
        drop_last=len(dataset) > config.batch_size,
        pin_memory=device.type == "cuda",
    )
    before = epoch * len(loader)  # every earlier epoch ran whole: the budget ends a run inside its last epoch
    limit = config.max_steps - before if config.max_steps else len(loader)
    started = time.perf_counter()
    sums = _train_epoch(model, loader, optimizer, config, device, on_batch, limit)
    seconds = time.perf_counter() - started
    val_nme = _validate(model, val_records, config, device)
    stop = schedule.step(val_nme) and config.lr_schedule == "plateau"  # cosine: always max_epochs
    stop = stop or bool(config.max_steps and before + len(loader) >= config.max_steps)
    record = EpochRecord(
        epoch=epoch,
        lr=lr,
        loss=sums["loss"],
        loss_gt=sums["loss_gt"],
        loss_elt=sums["loss_elt"],
        val_nme=val_nme,
        best_val_nme=schedule.best,
        seconds=seconds,
        images_per_second=sums["images"] / max(seconds, 1e-9),
    )
    return record, stop


def _write_epoch(out: Path, record: EpochRecord, history, model, optimizer, schedule, config: TrainConfig) -> None:
    ckpt = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "epoch": record.epoch,
        "history": history,
        "config": to_dict(config),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
        "parameters": parameter_count(model),
    }
    ckpt = _interned(ckpt)
    atomic_write(out / LAST, lambda tmp: torch.save(ckpt, tmp))
    if record.val_nme <= record.best_val_nme:
        atomic_write(out / BEST, lambda tmp: shutil.copyfile(out / LAST, tmp))
    atomic_write_text(out / HISTORY_FILE, "".join(json.dumps(h) + "\n" for h in history))
