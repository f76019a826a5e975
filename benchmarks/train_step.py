"""Training throughput: images per second for forward + backward + Adam step, batch 6 pairs (12 images).

For each model config (the study's 128x128 network and the demo profile's 64x64 one) it measures
  * compute: training steps on a fixed random batch already on the device (the model alone), and
  * fed: the same steps fed by the real DataLoader (two-view sampler, ELT loss) from a synthetic twin on disk,
and prints fed / compute: the fraction of the compute rate the loader sustains (1.0 = the device never waits).
On a CUDA machine it runs there (bf16 autocast, channels_last) and also reports the CPU figures when asked.

Usage: .venv/bin/python benchmarks/train_step.py [--device auto|cpu|cuda] [--steps 10] [--workers 2]
       [--models study,demo] [--data WFLW_ROOT]  (default: renders a 60-image twin into a temp folder)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from landmark_core.dataset import ViewDataset, face_records
from landmark_core.device import resolve_device
from landmark_core.losses import landmark_loss
from landmark_core.model import parameter_count
from landmark_core.predict import to_input
from landmark_core.sampler import AugmentConfig, train_steps
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.train import build_model
from landmark_core.train_config import LossConfig, ModelConfig
from landmark_core.wflw_index import index_wflw

DEMO = ModelConfig(
    size=64, stem_channels=8, encoder_channels=(16, 32, 64, 128), decoder_channels=(64, 32, 16, 16), expansion=4
)
LOSS = LossConfig(elt_lambda=0.25)


def _step(model, optimizer, batch, device) -> None:
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        stages = model(to_input(batch["image"], device))
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items() if k != "image"}
    loss = landmark_loss(stages=stages, batch=batch, config=LOSS, views=2).total
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(config: ModelConfig, records, device, steps: int, workers: int) -> tuple[float, float]:
    """(compute images/s, loader-fed images/s) for one config."""
    model = build_model(config, seed=0, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    aug = AugmentConfig(size=config.size, r1=0.0, r2=0.05)
    dataset = ViewDataset(records=records, steps=train_steps(aug), size=config.size, seed=0)
    loader = DataLoader(
        dataset,
        batch_size=6,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    fixed = next(iter(loader))
    for _ in range(2):
        _step(model, optimizer, fixed, device)
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        _step(model, optimizer, fixed, device)
    _sync(device)
    compute = 12 * steps / (time.perf_counter() - started)
    done, started = 0, time.perf_counter()
    while done < steps:
        for batch in loader:
            _step(model, optimizer, batch, device)
            done += 1
            if done == steps:
                break
    _sync(device)
    return compute, 12 * steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--models", default="study,demo", help="which of study, demo to measure")
    args = parser.parse_args()
    models = {"study": ("study 128x128", ModelConfig()), "demo": ("demo 64x64", DEMO)}
    chosen = [models[m.strip()] for m in args.models.split(",")]
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = Path(tmp)
            synthesize_wflw(out=root, config=SynthConfig(train=60, test=4, seed=0), workers=args.workers or 1)
        faces = index_wflw(root=root).faces
        records = face_records(root=root, faces=faces[faces["split"] == "train"])
        print(
            f"device {device}, torch threads {torch.get_num_threads()}, loader workers {args.workers}, "
            f"batch 6 pairs = 12 images, ELT loss"
        )
        for name, config in chosen:
            params = parameter_count(build_model(config, seed=0, device=torch.device("cpu")))
            compute, fed = measure(config, records, device, args.steps, args.workers)
            print(
                f"{name:14s} {params / 1e6:5.2f} M params  compute {compute:7.1f} img/s  "
                f"loader-fed {fed:7.1f} img/s  fed/compute {fed / compute:.2f}"
            )


if __name__ == "__main__":
    main()
