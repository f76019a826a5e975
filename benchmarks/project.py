"""Projection throughput: seconds per face per 1000 steps, batch 1 vs batch N (the named baseline is batch 1).

Runs the real projector (W+ code and noise maps optimised with LPIPS + the noise regulariser) for ``--steps``
steps and scales to 1000. Generator and LPIPS are randomly initialised: their weights do not change the cost.

  * ``--scale tiny`` (default, the CPU check): the 32x32 test generator and the LPIPS stand-in.
  * ``--scale ffhq``: StyleGAN2 config-f at 1024x1024 with the full LPIPS-VGG (renders box-downsampled to 256),
    the study's setting; meant for a GPU (``--amp`` for bfloat16 autocast). The study: 6 min per face on an
    RTX 2060 at batch 1; the project's goal on an H100 is <= 5 s per face amortised.

Prints one line per batch size and the ratio (seconds per face at batch N) / (seconds per face at batch 1).

Usage: .venv/bin/python benchmarks/project.py [--scale tiny|ffhq] [--batch 8] [--steps 30] [--device auto]
       [--amp] [--threads 0]
"""

from __future__ import annotations

import argparse
import time

import torch

from gan_core.perceptual import LPIPS, TINY_PERCEPTUAL, PerceptualConfig
from gan_core.projector import project
from gan_core.projector_config import ProjectorConfig
from gan_core.stylegan2 import Generator, mean_w
from gan_core.stylegan2_config import TINY, GeneratorConfig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seconds_per_face(*, generator, perceptual, batch: int, steps: int, amp: bool, w_avg, w_std) -> float:
    """Wall seconds per face for ``steps`` projection steps at ``batch``, scaled to 1000 steps."""
    device = generator.input.input.device
    res = generator.config.resolution
    targets = torch.rand(batch, 3, res, res, generator=torch.Generator().manual_seed(batch)).to(device) * 2 - 1
    config = ProjectorConfig(steps=steps)
    project(
        generator=generator,
        perceptual=perceptual,
        targets=targets,
        w_avg=w_avg,
        w_std=w_std,
        config=ProjectorConfig(steps=2),
        amp=amp,
    )  # warm-up
    _sync(device)
    started = time.perf_counter()
    project(
        generator=generator, perceptual=perceptual, targets=targets, w_avg=w_avg, w_std=w_std, config=config, amp=amp
    )
    _sync(device)
    return (time.perf_counter() - started) / batch * 1000 / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("tiny", "ffhq"), default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    torch.manual_seed(0)
    gen_config, lpips_config = (
        (TINY, TINY_PERCEPTUAL) if args.scale == "tiny" else (GeneratorConfig(), PerceptualConfig())
    )
    generator = Generator(gen_config).eval().requires_grad_(False).to(device)
    perceptual = LPIPS(lpips_config).to(device)
    w_avg, w_std = mean_w(generator=generator, n_samples=10_000)
    name = f"{gen_config.resolution}x{gen_config.resolution}"
    if device.type == "cuda":
        name += f" on {torch.cuda.get_device_name(device)}"
    print(
        f"projection, {name}, device {device}, threads {torch.get_num_threads()}, amp {args.amp}, "
        f"{args.steps} steps measured, scaled to 1000"
    )
    times = {}
    for batch in sorted({1, args.batch}):
        times[batch] = seconds_per_face(
            generator=generator,
            perceptual=perceptual,
            batch=batch,
            steps=args.steps,
            amp=args.amp,
            w_avg=w_avg,
            w_std=w_std,
        )
        print(f"  batch {batch:3d}: {times[batch]:8.2f} s per face per 1000 steps")
        if device.type == "cuda":
            print(f"             peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    if args.batch != 1:
        ratio = times[args.batch] / times[1]
        print(f"ratio batch {args.batch} / batch 1 (time per face): {ratio:.3f}  ({1 / ratio:.2f}x faces per second)")


if __name__ == "__main__":
    main()
