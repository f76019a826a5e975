"""The generator's shape, its numbers against NVIDIA's implementation, and the mean-W statistics."""

import json
import sys
from pathlib import Path

import pytest
import torch

from gan_core.strict import load_strict
from gan_core.stylegan2 import Generator, mean_w
from gan_core.stylegan2_config import TINY, GeneratorConfig
from gan_core.stylegan2_weights import ada_to_rosinality, config_from_state, with_fixed_buffers
from gan_core.upfirdn import make_filter

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
sys.path.insert(0, str(REFERENCE))
from fill import fill  # noqa: E402


def test_config_f_layout_without_building_it():
    ffhq = GeneratorConfig()
    assert ffhq.n_latent == 18 and ffhq.n_noise == 17
    assert [ffhq.channels(r) for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024)] == [512] * 5 + [256, 128, 64, 32]
    assert ffhq.noise_shapes()[:3] == [(4, 4), (8, 8), (8, 8)] and ffhq.noise_shapes()[-1] == (1024, 1024)
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(resolution=48)


def test_tiny_generator_shapes_and_noise_effect():
    torch.manual_seed(0)
    g = Generator(TINY).eval()
    ws = torch.randn(2, TINY.n_latent, TINY.style_dim)
    img = g.synthesis(ws)
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
    with torch.no_grad():
        for conv in [g.conv1, *g.convs]:
            conv.noise.weight.fill_(0.5)
    other = [torch.randn(2, 1, *s) for s in TINY.noise_shapes()]
    assert not torch.allclose(g.synthesis(ws), g.synthesis(ws, other))
    with pytest.raises(ValueError, match="W\\+"):
        g.synthesis(ws[:, :3])


def test_batch_rows_are_independent():
    torch.manual_seed(1)
    g = Generator(TINY).eval()
    ws = torch.randn(3, TINY.n_latent, TINY.style_dim)
    together = g.synthesis(ws)
    alone = torch.cat([g.synthesis(ws[i : i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_matches_nvidia_stylegan2_ada_reference():
    """Weights given by ``fill`` to NVIDIA's own Generator (see tests/data/reference/make_reference.py) and to
    this port through the NVIDIA-layout loader produce the same mapping output and image."""
    ref = json.loads((REFERENCE / "stylegan2_ada_tiny.json").read_text())
    ada = {k: make_filter() if k.endswith("resample_filter") else fill(k, tuple(s)) for k, s in ref["ada_keys"].items()}
    state, _ = ada_to_rosinality(ada)
    config = config_from_state(state)
    assert config == TINY
    g = Generator(config).eval()
    load_strict(g, with_fixed_buffers(state, config))
    with torch.no_grad():
        mapped = g.mapping(fill("z", (2, 32)))
        image = g.synthesis(fill("wplus", (2, ref["num_ws"], 32)))
    assert torch.allclose(mapped, torch.tensor(ref["mapping"]), atol=1e-6)
    expected = torch.tensor(ref["image"])
    assert expected.std() > 1.0  # the reference is not trivially flat
    assert torch.allclose(image, expected, atol=2e-4, rtol=1e-5)


def test_mean_w_is_the_sample_mean_and_rms_spread():
    torch.manual_seed(2)
    g = Generator(TINY).eval()
    avg, std = mean_w(generator=g, n_samples=500, seed=5, batch=128)
    z = torch.randn(500, TINY.style_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        w = g.mapping(z)
    assert torch.allclose(avg, w.mean(0), atol=1e-5)
    assert std == pytest.approx(float(((w - w.mean(0)).square().sum() / 500).sqrt()), rel=1e-4)
