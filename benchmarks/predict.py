"""Faces per second with a trained network on this machine: PyTorch eager against the exported ONNX model in
onnxruntime, for the demo and the study networks, with the dlib detection timed apart.

Renders a small WFLW-shaped twin, times the project's dlib detector on its photos (seconds per photo), crops
its annotated faces as the evaluation does, then runs each network on the crops in batches: PyTorch eager
(``predict_crops``: forward and decoding) against the same network exported to ONNX (``eltrepro export``) in
onnxruntime, in one run; it prints how far apart their heatmaps are and the share of landmarks that agree.
Networks are randomly initialised (the speed does not depend on the weights; their nearly flat heatmaps can tie,
so a tie broken the other way moves a landmark).

Usage: .venv/bin/python benchmarks/predict.py [--faces 64] [--batch 32] [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from elt_models.predict import dlib_boxes  # noqa: E402
from landmark_core.config import from_dict  # noqa: E402
from landmark_core.export import export_model  # noqa: E402
from landmark_core.face_crops import crop_faces, predict_crops  # noqa: E402
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw  # noqa: E402
from landmark_core.train import build_model  # noqa: E402
from landmark_core.train_config import TrainConfig  # noqa: E402
from landmark_core.wflw import IMAGES_DIR  # noqa: E402
from landmark_core.wflw_index import index_wflw  # noqa: E402

CPU = torch.device("cpu")


def networks() -> dict[str, TrainConfig]:
    with open(Path(__file__).resolve().parents[1] / "elt_study/profiles/demo.toml", "rb") as handle:
        demo = from_dict(TrainConfig, tomllib.load(handle)["train"])
    return {"demo": demo, "study": TrainConfig()}


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def measure(name: str, config: TrainConfig, faces: list, args: argparse.Namespace, tmp: Path) -> str:
    """One network: eager and onnxruntime faces per second on the same crops, and their largest difference."""
    import onnxruntime as ort

    crops = np.concatenate([crop_faces(image=p, boxes=b[None], augment=config.augment)[0] for p, b in faces])
    model = build_model(config.model, seed=0, device=CPU).eval()
    path = export_model(model=model, config=config, out=tmp / name, fmt="onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = crops.astype(np.float32) / 255.0

    def eager() -> tuple[np.ndarray, np.ndarray]:
        return predict_crops(model=model, crops=crops, decoding=config.decoding, device=CPU, batch_size=args.batch)

    def onnx() -> tuple[np.ndarray, np.ndarray]:
        outputs = [session.run(None, {"crops": inputs[i : i + args.batch]}) for i in range(0, len(inputs), args.batch)]
        return np.concatenate([o[0] for o in outputs]), np.concatenate([o[1] for o in outputs])

    (heat_a, points_a), (heat_b, points_b) = eager(), onnx()
    gap = float(np.abs(heat_a - heat_b).max())
    same = float((np.abs(points_a - points_b).max(-1) <= 1e-3).mean())  # a random network's flat maps can tie
    t_eager, t_onnx = best_of(args.repeat, eager), best_of(args.repeat, onnx)
    size = config.augment.size
    return (
        f"{name} network ({size}x{size}, {len(crops)} faces, batch {args.batch}, {args.threads} threads): "
        f"eager {len(crops) / t_eager:.1f} faces/s, onnxruntime {len(crops) / t_onnx:.1f} faces/s: "
        f"onnxruntime / eager = {t_eager / t_onnx:.2f}x (largest heatmap difference {gap:.1e}; "
        f"{100 * same:.1f} % of landmarks the same to 1e-3 px)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "twin"
        synthesize_wflw(out=root, config=SynthConfig(shape="wflw", fraction=args.faces / 10_000, seed=5), workers=2)
        photos = [cv2.imread(str(p)) for p in sorted((root / IMAGES_DIR).rglob("*.jpg"))]
        detect = dlib_boxes()
        began = time.perf_counter()
        boxes = [detect(photo) for photo in photos]
        detection = time.perf_counter() - began
        found = sum(len(b) for b in boxes)
        mpix = np.mean([p.shape[0] * p.shape[1] for p in photos]) / 1e6
        print(
            f"dlib detection: {detection / len(photos):.3f} s per photo ({len(photos)} photos of {mpix:.2f} Mpixel, "
            f"{found} faces found)"
        )
        index = index_wflw(root=root).faces  # the networks run on every annotated face (its WFLW box)
        by_path = {p.relative_to(root).as_posix(): cv2.imread(str(p)) for p in (root / IMAGES_DIR).rglob("*.jpg")}
        columns = ["bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"]
        faces = [(by_path[p], box) for p, box in zip(index["image_path"], index[columns].to_numpy(float), strict=True)]
        for name, config in networks().items():
            print(measure(name, config, faces, args, Path(tmp)))


if __name__ == "__main__":
    main()
