"""A trained landmark network as a file other tools run: ONNX (onnxruntime, no project code) or TorchScript.

The exported network takes what the evaluation feeds the model, a batch of face crops (``crop_faces`` makes
them), and returns the last stage's heatmaps and the landmarks decoded from them with the run's own decoding,
in crop pixels (pixel centres at +0.5, WFLW order). A JSON card beside the file says how to feed it and how to
map the landmarks back into the photo.

Files are named by appending, never by replacing a suffix: a run named ``rt_l0.25_r0.05-seed0`` exports as
``rt_l0.25_r0.05-seed0.onnx`` and its card as ``rt_l0.25_r0.05-seed0.onnx.json`` (``Path.with_suffix`` would
take ``.05-seed0`` for an extension, and seeds 0 and 1 would write the same file).
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path
from typing import Literal

import torch

from landmark_core.atomic import atomic_write, atomic_write_text
from landmark_core.heatmap import DECODERS
from landmark_core.train_config import TrainConfig

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
OPSET = 18


class DecodedLandmarks(torch.nn.Module):
    """The network plus its decoding: crops in, heatmaps and landmarks out.

    Shapes:
        crops (N, 3, S, S) float32 BGR in [0, 1] (uint8 / 255) -> heatmaps (N, 98, H, W) float32,
        landmarks (N, 98, 2) float32 crop pixels.
    """

    def __init__(self, *, model: torch.nn.Module, decoding: str) -> None:
        super().__init__()
        if decoding not in DECODERS:
            raise ValueError(f"decoding must be one of {sorted(DECODERS)}, got {decoding!r}")
        self.model = model.eval()
        self.decoding = decoding

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps = self.model(crops)[-1].float()
        return heatmaps, DECODERS[self.decoding](heatmaps)


class _Clamp(torch.nn.Module):
    """``ReLU6`` written as the ``clamp`` it is: the ONNX exporter turns ``clamp`` into one Clip node, while it
    decomposes ReLU6 (``hardtanh``) through shape-symbolic tracing that took half of a whole export's time."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, self.low, self.high)


def _relu6_as_clamp(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with every ``nn.ReLU6`` a ``_Clamp(0, 6)``: the same numbers, a faster export."""
    model = copy.deepcopy(model)
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ReLU6):
                setattr(parent, name, _Clamp(0.0, 6.0))
    return model


def run_file_name(*, row: str, seed: int) -> str:
    """The file name (without suffix) of a run's export: its row and seed, path separators made ``_``.

    Args:
        row: the run's matrix row (dots kept: ``rt_l0.25_r0.05``).
        seed: its seed.

    Returns:
        ``<row>-seed<seed>``, e.g. ``rt_l0.25_r0.05-seed1``.
    """
    return f"{row.replace('/', '_').replace(chr(92), '_')}-seed{seed}"


def export_path(*, out: Path, fmt: str) -> Path:
    """The file ``export_model`` writes for ``out``: ``out`` with the format's suffix appended.

    Args:
        out: the file's path without suffix (its name may hold dots).
        fmt: ``onnx`` or ``torchscript``.

    Returns:
        ``out`` + ``.onnx`` or ``.pt``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out)
    return out.with_name(out.name + SUFFIX[fmt])


def card_path(path: Path) -> Path:
    """The card beside an exported file: ``<file>.json`` (``net.onnx`` -> ``net.onnx.json``)."""
    return Path(path).with_name(Path(path).name + ".json")


def export_model(
    *, model: torch.nn.Module, config: TrainConfig, out: Path, fmt: Literal["onnx", "torchscript"]
) -> Path:
    """Write ``model`` with its run's decoding as ``out`` + the format's suffix (batch size free).

    Args:
        model: the trained network (on the CPU).
        config: its run's training config (crop size, decoding).
        out: the file's path without suffix (the suffix is appended: ``export_path``).
        fmt: ``onnx`` (opset 18, a dynamic batch axis) or ``torchscript`` (traced; loads with torch.jit.load;
            PyTorch deprecates TorchScript, ONNX is the format to prefer).

    Returns:
        The written file.
    """
    path = export_path(out=out, fmt=fmt)
    wrapped = DecodedLandmarks(model=model.cpu().float(), decoding=config.decoding).eval().requires_grad_(False)
    example = torch.rand(2, 3, config.augment.size, config.augment.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        batch = torch.export.Dim("batch", min=1)
        program = torch.onnx.export(
            _relu6_as_clamp(wrapped),
            (example,),
            input_names=["crops"],
            output_names=["heatmaps", "landmarks"],
            dynamic_shapes={"crops": {0: batch}},
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
        atomic_write(path, lambda tmp: program.save(str(tmp)))
    else:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)  # asked for
            traced = torch.jit.trace(wrapped, (example,), check_trace=False)
            atomic_write(path, lambda tmp: torch.jit.save(traced, str(tmp)))
    return path


def model_card(*, config: TrainConfig, fmt: str, run: dict) -> dict:
    """What a user of the exported file needs: input, channel order, normalisation, outputs, the run.

    Args:
        config: the run's training config.
        fmt: the export format.
        run: where the model came from (store, row, seed, key, metrics).
    """
    size = config.augment.size
    return {
        "format": fmt,
        "input": {
            "name": "crops",
            "shape": ["N", 3, size, size],
            "dtype": "float32",
            "channel_order": "BGR",
            "normalisation": "uint8 value / 255 (the network standardises inside)",
            "crop": {
                "size": size,
                "factor": config.augment.crop_factor,
                "how": "the face box's square, scaled by factor, warped to size x size (landmark_core.face_crops)",
            },
        },
        "outputs": {
            "heatmaps": ["N", 98, "H", "W"],
            "landmarks": ["N", 98, 2],
            "landmark_units": "crop pixels, pixel centres at +0.5; photo = inverse(crop matrix) applied to them",
            "landmark_order": "WFLW 98",
            "decoding": config.decoding,
        },
        "run": run,
    }


def write_card(path: Path, card: dict) -> Path:
    """``card`` as ``<file>.json`` beside the exported file (``card_path``).

    Args:
        path: the exported file.
        card: the card (``model_card``); a metric that is not finite is written as null (JSON has no NaN).

    Returns:
        The card's path.
    """
    target = card_path(path)
    atomic_write_text(target, json.dumps(_finite(card), indent=2, sort_keys=True, allow_nan=False) + "\n")
    return target


def _finite(value: object) -> object:
    """``value`` with every non-finite float (NaN, infinity) replaced by None, recursively."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
