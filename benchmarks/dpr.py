"""DPR speed: milliseconds per face for the lighting estimate (the attributes stage) and the full relight pass,
batch 1 (the named baseline) against batch N, with the published network's shape (random weights: the cost does
not depend on them) at 512x512.

Usage: .venv/bin/python benchmarks/dpr.py [--device auto] [--batch 8] [--repeat 5] [--size 512]
"""

from __future__ import annotations

import argparse
import time

import torch

from gan_core.dpr import HourglassNet
from landmark_core.device import resolve_device


def ms_per_face(model: HourglassNet, *, batch: int, size: int, repeat: int, device: torch.device, full: bool) -> float:
    """Median milliseconds per face of ``repeat`` timed passes (after one warm-up)."""
    x = torch.rand(batch, 1, size, size, device=device)  # (N, 1, S, S) L / 255
    target = torch.randn(batch, 9, 1, 1, device=device)  # (N, 9, 1, 1) SH
    times = []
    with torch.inference_mode():
        for i in range(repeat + 1):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            model(x, target) if full else model.estimate_light(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:
                times.append(time.perf_counter() - started)
    return 1000.0 * sorted(times)[len(times) // 2] / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    device = resolve_device(args.device)
    model = HourglassNet().to(device).eval()
    for full, what in ((False, "lighting estimate"), (True, "relight pass")):
        one = ms_per_face(model, batch=1, size=args.size, repeat=args.repeat, device=device, full=full)
        many = ms_per_face(model, batch=args.batch, size=args.size, repeat=args.repeat, device=device, full=full)
        print(
            f"DPR {what} on {device} at {args.size}: batch 1 {one:8.2f} ms per face, batch {args.batch} "
            f"{many:8.2f} ms per face, ratio {many / one:.3f}"
        )


if __name__ == "__main__":
    main()
