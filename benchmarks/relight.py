"""Relighting speed: milliseconds per relit face, physical backend and StyleFlow's flow edit.

* physical: one 1024x1024-equivalent face (a synthetic twin face scaled so its landmark box is ~1024 px) on one
  CPU core (OpenCV and torch limited to one thread): normal map + SH fit once per face, then one ratio image per
  variant; reported per relit variant with ``--variants`` (3) variants per face. Goal: <= 20 ms.
* styleflow: the lighting edit of W+ codes with the published flow's shape (512-dim, five hidden layers of 512,
  dopri5 at 1e-5) and random weights (the published ones are not here: their ODE may need more solver steps, so
  read this as a lower bound), at batch 1 (the baseline) and batch N; on CUDA when available. Goal on an H100:
  <= 50 ms per face batched (the study: 750 ms). The rendering of the edited code is not included.

Prints each figure and the ratios batch N / batch 1 (StyleFlow) and physical / StyleFlow batch 1.

Usage: .venv/bin/python benchmarks/relight.py [--variants 3] [--batch 16] [--repeat 5] [--device auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from gan_core.relight_physical import estimate_source_sh, face_geometry, relight
from gan_core.sh import relit_target
from gan_core.styleflow import SequentialFlow, relight_codes
from gan_core.styleflow_config import FlowConfig
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.wflw_index import index_wflw, landmarks_array


def twin_face_1024() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic WFLW face scaled so its landmark box is 1024 px wide, in a photo cropped to 1.5x that box
    (a 1024x1024-equivalent face, not a 5000-px photo): (photo, landmarks)."""
    with tempfile.TemporaryDirectory() as tmp:
        synthesize_wflw(out=Path(tmp), config=SynthConfig(train=2, test=1, seed=0), workers=1)
        faces = index_wflw(root=Path(tmp)).faces
        face = faces.iloc[[0]]
        photo = cv2.imread(str(Path(tmp) / face["image_path"].iloc[0]))
    landmarks = landmarks_array(face)[0]
    scale = 1024 / float((landmarks.max(0) - landmarks.min(0)).max())
    photo, landmarks = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), landmarks * scale
    x0, y0 = np.maximum(landmarks.min(0) - 256, 0).astype(int)
    return photo[y0 : y0 + 1536, x0 : x0 + 1536].copy(), landmarks - [x0, y0]


def physical_ms(*, variants: int, repeat: int) -> float:
    photo, landmarks = twin_face_1024()
    times, buffer = [], np.empty_like(photo)  # one output buffer per photo, as the relight stage uses it
    for _ in range(repeat + 1):
        started = time.perf_counter()
        geometry = face_geometry(landmarks=landmarks, image_shape=photo.shape)
        source = estimate_source_sh(image_bgr=photo, geometry=geometry)
        for i in range(variants):
            target = relit_target(source=source, presets=["left_to_right", "frontal"], amounts=[0.3 + 0.1 * i, 0.2])
            relight(image_bgr=photo, geometry=geometry, source_sh=source, target_sh=target, out=buffer)
        times.append((time.perf_counter() - started) * 1000 / variants)
    return float(np.median(times[1:]))


def styleflow_ms(*, batch: int, repeat: int, device: torch.device) -> float:
    torch.manual_seed(0)
    flow = SequentialFlow(FlowConfig()).to(device)
    with torch.no_grad():
        for p in flow.parameters():
            p.normal_(0.0, 0.02)
    w = torch.randn(batch, 18, 512, device=device)
    source = torch.randn(batch, 17, device=device)
    target = source[:, :9] + 0.3
    times = []
    for _ in range(repeat + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        relight_codes(flow=flow, w=w, source=source, target_sh=target)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - started) * 1000 / batch)
    return float(np.median(times[1:]))


def round_trip(*, device: torch.device) -> float:
    """max |F(F^-1(w; c); c) - w| for the published flow's shape (random weights), 8 codes."""
    torch.manual_seed(1)
    flow = SequentialFlow(FlowConfig()).to(device)
    with torch.no_grad():
        for p in flow.parameters():
            p.normal_(0.0, 0.02)
    w, c = torch.randn(8, 18, 512, device=device), torch.randn(8, 17, device=device)
    return float((flow.from_latent(flow.to_latent(w, c), c) - w).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    physical = physical_ms(variants=args.variants, repeat=args.repeat)
    print(f"physical, 1024-equivalent face, one core: {physical:7.1f} ms per relit face ({args.variants} per face)")
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    torch.set_num_threads(threads)
    one = styleflow_ms(batch=1, repeat=args.repeat, device=device)
    many = styleflow_ms(batch=args.batch, repeat=args.repeat, device=device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} thr)"
    print(f"styleflow edit on {name}: batch 1 {one:8.1f} ms per face, batch {args.batch} {many:8.1f} ms per face")
    print(f"ratio styleflow batch {args.batch} / batch 1: {many / one:.3f}")
    print(f"flow round trip F(F^-1(w)) - w, max abs: {round_trip(device=device):.2e}")
    print(f"ratio physical / styleflow batch 1: {physical / one:.4f}")


if __name__ == "__main__":
    main()
