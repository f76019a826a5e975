"""LPIPS-VGG port: the lpips package's numbers and names, strict loading of the two published files."""

import json
import sys
from pathlib import Path

import pytest
import torch

from gan_core.perceptual import LPIPS, TINY_PERCEPTUAL, downsample_to, load_lpips, vgg_key_map

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
sys.path.insert(0, str(REFERENCE))
from fill import fill  # noqa: E402


def test_matches_the_lpips_package():
    """Values from lpips 0.1.4 (``LPIPS(net="vgg")``, see tests/data/reference/make_reference.py) with the same
    ``fill`` weights; the state-dict names are the package's (its ``lins.*`` are aliases of ``lin0..4``)."""
    ref = json.loads((REFERENCE / "lpips_vgg.json").read_text())
    model = LPIPS()
    assert set(model.state_dict()) == {k for k in ref["keys"] if not k.startswith("lins.")}
    assert all(list(v.shape) == ref["keys"][k] for k, v in model.state_dict().items())
    with torch.no_grad():
        for name, t in model.named_parameters():
            t.copy_(fill(name, t.shape).abs() if name.startswith("lin") else fill(name, t.shape, scale=0.05))
        d = model(fill("img_a", (2, 3, 64, 64)), fill("img_b", (2, 3, 64, 64)) * 0.5)
    assert torch.allclose(d, torch.tensor(ref["distance"]), rtol=1e-4)


def test_torchvision_names_map_onto_the_slices():
    keys = vgg_key_map()
    assert len(keys) == 26  # 13 convs of VGG16 up to conv5_3
    assert keys["features.0.weight"] == "net.slice1.0.weight"
    assert keys["features.28.bias"] == "net.slice5.28.bias"


def test_distance_is_zero_for_equal_images_and_positive_otherwise():
    torch.manual_seed(0)
    model = LPIPS(TINY_PERCEPTUAL)
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(model(a, a), torch.zeros(2), atol=1e-7)
    assert (model(a, b) > 0).all()
    assert torch.allclose(model(a, b), model(b, a))


def _write_files(tmp_path: Path, model: LPIPS, **extra) -> tuple[Path, Path]:
    state = model.state_dict()
    keys = vgg_key_map(TINY_PERCEPTUAL)
    vgg = {tv: state[ours] for tv, ours in keys.items()} | {"classifier.0.weight": torch.zeros(2, 2)} | extra
    torch.save(vgg, tmp_path / "vgg.pth")
    torch.save({k: v for k, v in state.items() if k.startswith("lin")}, tmp_path / "lin.pth")
    return tmp_path / "vgg.pth", tmp_path / "lin.pth"


def test_load_from_the_two_published_files(tmp_path):
    torch.manual_seed(1)
    source = LPIPS(TINY_PERCEPTUAL)
    vgg, lin = _write_files(tmp_path, source)
    loaded = load_lpips(vgg_path=vgg, lin_path=lin, config=TINY_PERCEPTUAL)
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded(a, b), source(a, b))


def test_load_is_strict(tmp_path):
    source = LPIPS(TINY_PERCEPTUAL)
    vgg, lin = _write_files(tmp_path, source, **{"features.99.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="features.99.weight"):
        load_lpips(vgg_path=vgg, lin_path=lin, config=TINY_PERCEPTUAL)
    vgg, lin = _write_files(tmp_path, source)
    torch.save({"lin0.model.1.weight": torch.zeros(1, 4, 1, 1)}, lin)
    with pytest.raises(ValueError, match="lin1"):
        load_lpips(vgg_path=vgg, lin_path=lin, config=TINY_PERCEPTUAL)


def test_downsample_is_a_box_filter_and_leaves_small_images_alone():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(downsample_to(x, size=2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert downsample_to(x, size=8) is x
