"""Exported networks: ONNX in onnxruntime and TorchScript agree with the PyTorch model, and load without the
project's code; the card says how to feed them."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import torch

from landmark_core.config import from_dict
from landmark_core.export import (
    DecodedLandmarks,
    card_path,
    export_model,
    export_path,
    model_card,
    run_file_name,
    write_card,
)
from landmark_core.train import build_model
from landmark_core.train_config import TrainConfig
from tests.landmark_core.test_train import CPU

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


def _demo_config() -> TrainConfig:
    with open("elt_study/profiles/demo.toml", "rb") as handle:
        return from_dict(TrainConfig, tomllib.load(handle)["train"])


def _networks() -> list:
    return [pytest.param(_demo_config(), id="demo"), pytest.param(TrainConfig(), id="study", marks=pytest.mark.slow)]


def _crops(config: TrainConfig, n: int = 3) -> np.ndarray:
    size = config.augment.size
    return np.random.default_rng(1).integers(0, 256, (n, 3, size, size)).astype(np.float32) / 255.0


@pytest.mark.slow
@pytest.mark.parametrize("config", _networks())
def test_onnx_agrees_with_pytorch_in_onnxruntime_alone(config, tmp_path):
    model = build_model(config.model, seed=0, device=CPU)
    path = export_model(model=model, config=config, out=tmp_path / "net", fmt="onnx")
    crops = _crops(config, n=3)
    with torch.no_grad():
        heatmaps, landmarks = DecodedLandmarks(model=model, decoding=config.decoding)(torch.from_numpy(crops))
    np.save(tmp_path / "crops.npy", crops)
    script = (  # a process with onnxruntime and numpy only: no project module on its path
        "import sys, numpy as np, onnxruntime as ort\n"
        "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
        "h, l = s.run(None, {'crops': np.load(sys.argv[2])})\n"
        "np.save(sys.argv[3], h); np.save(sys.argv[4], l)\n"
    )
    outputs = [str(tmp_path / "h.npy"), str(tmp_path / "l.npy")]
    run = subprocess.run(
        [sys.executable, "-I", "-c", script, str(path), str(tmp_path / "crops.npy"), *outputs], cwd=tmp_path
    )
    assert run.returncode == 0
    np.testing.assert_allclose(np.load(outputs[0]), heatmaps.numpy(), atol=1e-4)
    np.testing.assert_allclose(np.load(outputs[1]), landmarks.numpy(), atol=1e-3)
    assert np.load(outputs[1]).shape == (3, 98, 2)


def test_the_exported_copy_clamps_where_the_model_has_relu6_with_the_same_numbers():
    from landmark_core.export import _relu6_as_clamp

    config = _demo_config()
    model = build_model(config.model, seed=0, device=CPU).eval()
    copy = _relu6_as_clamp(model)
    assert sum(isinstance(m, torch.nn.ReLU6) for m in model.modules()) > 10  # the model itself keeps them
    assert not any(isinstance(m, torch.nn.ReLU6) for m in copy.modules())
    crops = torch.from_numpy(_crops(config)) * 40 - 20  # wide inputs: many activations beyond 0 and 6
    with torch.no_grad():
        for ours, theirs in zip(copy(crops), model(crops), strict=True):
            assert torch.equal(ours, theirs)


def test_torchscript_loads_with_torch_jit_load_alone(tmp_path):
    config = _demo_config()
    model = build_model(config.model, seed=0, device=CPU)
    path = export_model(model=model, config=config, out=tmp_path / "net", fmt="torchscript")
    crops = torch.from_numpy(_crops(config, n=5))  # another batch size than the trace's
    with torch.no_grad():
        expected = DecodedLandmarks(model=model, decoding=config.decoding)(crops)[1]
    torch.save(crops, tmp_path / "crops.pt")
    script = (
        "import sys, torch\nm = torch.jit.load(sys.argv[1])\ntorch.save(m(torch.load(sys.argv[2]))[1], sys.argv[3])\n"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", script, str(path), str(tmp_path / "crops.pt"), str(tmp_path / "l.pt")],
        cwd=tmp_path,
    )
    assert run.returncode == 0
    np.testing.assert_allclose(torch.load(tmp_path / "l.pt").numpy(), expected.numpy(), atol=1e-4)


def test_the_card_says_how_to_feed_the_network(tmp_path):
    config = _demo_config()
    card = model_card(config=config, fmt="onnx", run={"row": "baseline", "seed": 0, "key": "abc"})
    path = write_card(tmp_path / "net.onnx", card)
    assert path.name == "net.onnx.json"
    saved = json.loads(path.read_text())
    assert saved["input"]["shape"] == ["N", 3, 48, 48] and saved["input"]["channel_order"] == "BGR"
    assert saved["outputs"]["decoding"] == "quarter_offset" and saved["outputs"]["landmark_order"] == "WFLW 98"
    assert saved["run"] == {"row": "baseline", "seed": 0, "key": "abc"}


def test_an_unknown_format_or_decoding_is_refused(tmp_path):
    config = _demo_config()
    model = build_model(config.model, seed=0, device=CPU)
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(model=model, config=config, out=tmp_path / "net", fmt="tflite")
    with pytest.raises(ValueError, match="decoding must be one of"):
        DecodedLandmarks(model=model, decoding="soft")


def test_a_run_name_with_dots_is_never_cut_and_every_seed_has_its_file(tmp_path):
    config = _demo_config()
    model = build_model(config.model, seed=0, device=CPU)
    names = [run_file_name(row="rt_l0.25_r0.05", seed=seed) for seed in (0, 1)]
    assert names == ["rt_l0.25_r0.05-seed0", "rt_l0.25_r0.05-seed1"]
    paths = [export_model(model=model, config=config, out=tmp_path / name, fmt="torchscript") for name in names]
    assert [p.name for p in paths] == ["rt_l0.25_r0.05-seed0.pt", "rt_l0.25_r0.05-seed1.pt"]
    assert all(p.is_file() for p in paths)
    cards = [write_card(p, {"run": {"seed": k}}) for k, p in enumerate(paths)]
    assert [c.name for c in cards] == ["rt_l0.25_r0.05-seed0.pt.json", "rt_l0.25_r0.05-seed1.pt.json"]
    assert export_path(out=tmp_path / "a.b", fmt="onnx").name == "a.b.onnx"
    assert card_path(tmp_path / "a.b.onnx").name == "a.b.onnx.json"


def test_a_row_name_cannot_leave_the_folder():
    assert run_file_name(row="../up/row", seed=2) == ".._up_row-seed2"


def test_a_metric_that_is_not_finite_is_null_in_the_card(tmp_path):
    path = write_card(tmp_path / "net.onnx", {"run": {"test_metrics": {"nme": float("nan"), "fr": float("inf")}}})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["run"]["test_metrics"] == {"nme": None, "fr": None}
