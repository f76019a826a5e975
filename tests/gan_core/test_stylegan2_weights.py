"""Strict loading of both published formats, and a pickle loader that never runs code from the file."""

import os
import pickle

import pytest
import torch

from gan_core.safe_pickle import UnsafePickleError, load_network_pickle
from gan_core.stylegan2 import Generator
from gan_core.stylegan2_config import TINY
from gan_core.stylegan2_weights import WeightsMismatchError, load_ada_pickle, load_generator, load_rosinality
from gan_core.upfirdn import make_filter
from tests.gan_core.ada_pickle import tree, write_ada_pickle


def _random_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator(TINY).eval()
    with torch.no_grad():
        for conv in [g.conv1, *g.convs]:  # non-zero noise strengths and biases so every tensor matters
            conv.noise.weight.uniform_(0.1, 0.5)
            conv.activate.bias.uniform_(-0.2, 0.2)
    return g


def _nvidia_state(g: Generator) -> dict[str, torch.Tensor]:
    """The NVIDIA names of ``g``'s tensors (the inverse of the loader's renaming, written out independently)."""
    s, out = g.state_dict(), {}
    for i in range(TINY.n_mlp):
        out[f"mapping.fc{i}.weight"], out[f"mapping.fc{i}.bias"] = s[f"style.{i + 1}.weight"], s[f"style.{i + 1}.bias"]
    out["mapping.w_avg"] = torch.linspace(-1, 1, TINY.style_dim)
    out["synthesis.b4.const"] = s["input.input"][0]
    layers = [
        ("b4.conv1", "conv1", 0),
        ("b8.conv0", "convs.0", 1),
        ("b8.conv1", "convs.1", 2),
        ("b16.conv0", "convs.2", 3),
        ("b16.conv1", "convs.3", 4),
        ("b32.conv0", "convs.4", 5),
        ("b32.conv1", "convs.5", 6),
    ]
    for nv, ro, n in layers:
        nv = f"synthesis.{nv}"
        out[f"{nv}.weight"], out[f"{nv}.bias"] = s[f"{ro}.conv.weight"][0], s[f"{ro}.activate.bias"]
        out[f"{nv}.affine.weight"] = s[f"{ro}.conv.modulation.weight"]
        out[f"{nv}.affine.bias"] = s[f"{ro}.conv.modulation.bias"]
        out[f"{nv}.noise_strength"], out[f"{nv}.noise_const"] = s[f"{ro}.noise.weight"][0], s[f"noises.noise_{n}"][0, 0]
        out[f"{nv}.resample_filter"] = make_filter()
    for res, ro in ((4, "to_rgb1"), (8, "to_rgbs.0"), (16, "to_rgbs.1"), (32, "to_rgbs.2")):
        nv = f"synthesis.b{res}.torgb"
        out[f"{nv}.weight"], out[f"{nv}.bias"] = s[f"{ro}.conv.weight"][0], s[f"{ro}.bias"].flatten()
        out[f"{nv}.affine.weight"] = s[f"{ro}.conv.modulation.weight"]
        out[f"{nv}.affine.bias"] = s[f"{ro}.conv.modulation.bias"]
        out[f"synthesis.b{res}.resample_filter"] = make_filter()
    return out


def _render(g: Generator) -> torch.Tensor:
    ws = torch.randn(2, TINY.n_latent, TINY.style_dim, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        return g.synthesis(ws)


def _pickle_data(g: Generator, module_src: str = "", **changes) -> dict:
    state = {**_nvidia_state(g), **changes}
    kwargs = {
        "z_dim": 32,
        "w_dim": 32,
        "img_resolution": 32,
        "mapping_kwargs": {"num_layers": 2},
        "synthesis_kwargs": {"channel_base": 256, "channel_max": 16, "conv_clamp": None},
    }
    return {
        "G_ema": tree(state, module_src=module_src, _init_kwargs=kwargs, z_dim=32),
        "G": tree(state, module_src=module_src),
        "training_set_kwargs": {"resolution": 32},
        "augment_pipe": None,
    }


def test_rosinality_checkpoint_round_trip(tmp_path):
    g = _random_generator()
    torch.save({"g_ema": g.state_dict(), "latent_avg": torch.ones(TINY.style_dim)}, tmp_path / "g.pt")
    loaded = load_generator(tmp_path / "g.pt")
    assert loaded.generator.config == TINY
    assert torch.equal(loaded.latent_avg, torch.ones(TINY.style_dim))
    assert torch.equal(_render(loaded.generator), _render(g))


def test_rosinality_strictness(tmp_path):
    g = _random_generator()
    state = g.state_dict()
    broken = {k: v for k, v in state.items() if k != "convs.1.noise.weight"}
    torch.save({"g_ema": broken}, tmp_path / "missing.pt")
    with pytest.raises(WeightsMismatchError, match=r"missing \['convs.1.noise.weight'\]"):
        load_rosinality(tmp_path / "missing.pt", config=TINY)
    torch.save({"g_ema": {**state, "extra.weight": torch.zeros(1)}}, tmp_path / "extra.pt")
    with pytest.raises(WeightsMismatchError, match="extra.weight"):
        load_rosinality(tmp_path / "extra.pt", config=TINY)
    torch.save({"g_ema": {**state, "conv1.activate.bias": torch.zeros(3)}}, tmp_path / "shape.pt")
    with pytest.raises(WeightsMismatchError, match="conv1.activate.bias"):
        load_rosinality(tmp_path / "shape.pt", config=TINY)
    torch.save({"generator": state}, tmp_path / "other.pt")
    with pytest.raises(WeightsMismatchError, match="no 'g_ema'"):
        load_rosinality(tmp_path / "other.pt")


def test_nvidia_pickle_loads_into_an_identical_module(tmp_path):
    g = _random_generator(3)
    write_ada_pickle(tmp_path / "net.pkl", _pickle_data(g))
    loaded = load_generator(tmp_path / "net.pkl")
    assert loaded.generator.config == TINY
    assert torch.equal(loaded.latent_avg, torch.linspace(-1, 1, TINY.style_dim))
    own = loaded.generator.state_dict()
    assert all(torch.equal(own[k], v) for k, v in g.state_dict().items())
    assert torch.equal(_render(loaded.generator), _render(g))


def test_nvidia_pickle_source_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    src = f"open({str(marker)!r}, 'w').write('x')\nclass Generator: pass\n"
    write_ada_pickle(tmp_path / "net.pkl", _pickle_data(_random_generator(), module_src=src))
    load_ada_pickle(tmp_path / "net.pkl")
    assert not marker.exists()


def test_nvidia_pickle_with_a_code_global_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": Evil()}))
    with pytest.raises(UnsafePickleError, match=r"refusing global (posix|os)\.system"):
        load_ada_pickle(tmp_path / "evil.pkl")
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "eval.pkl").write_bytes(pickle.dumps(eval))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_network_pickle(tmp_path / "eval.pkl")


def test_nvidia_pickle_strictness(tmp_path):
    g = _random_generator()
    write_ada_pickle(tmp_path / "extra.pkl", _pickle_data(g, **{"synthesis.b8.skip.weight": torch.zeros(8, 8, 1, 1)}))
    with pytest.raises(WeightsMismatchError, match="synthesis.b8.skip.weight"):
        load_ada_pickle(tmp_path / "extra.pkl")
    write_ada_pickle(tmp_path / "filter.pkl", _pickle_data(g, **{"synthesis.b8.resample_filter": torch.ones(4, 4)}))
    with pytest.raises(WeightsMismatchError, match="resample_filter"):
        load_ada_pickle(tmp_path / "filter.pkl")
    data = _pickle_data(g)
    del data["G_ema"]
    write_ada_pickle(tmp_path / "nog.pkl", data)
    with pytest.raises(UnsafePickleError, match="no network record 'G_ema'"):
        load_ada_pickle(tmp_path / "nog.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(UnsafePickleError, match="not a readable network pickle"):
        load_ada_pickle(tmp_path / "junk.pkl")


def test_nvidia_pickle_with_a_huge_length_field_is_refused_before_allocating(tmp_path):
    huge = (1 << 60).to_bytes(8, "little")  # BINBYTES8 claiming an exabyte, then a few bytes and STOP
    path = tmp_path / "bogus.pkl"
    path.write_bytes(b"\x80\x04\x8e" + huge + b"abc." + b"\x00" * 16)
    with pytest.raises(UnsafePickleError, match=f"{path}: not a readable network pickle"):
        load_network_pickle(path)


@pytest.mark.parametrize(
    "load",
    [
        lambda p: load_rosinality(p),
        lambda p: __import__("gan_core.dpr", fromlist=["load_dpr"]).load_dpr(p),
        lambda p: __import__("gan_core.styleflow", fromlist=["load_styleflow"]).load_styleflow(p),
        lambda p: __import__("gan_core.perceptual", fromlist=["load_lpips"]).load_lpips(vgg_path=p, lin_path=p),
    ],
    ids=["rosinality", "dpr", "styleflow", "lpips"],
)
def test_every_published_weights_loader_refuses_a_file_that_would_run_code(load, hostile_torch_file):
    from landmark_core.weights_file import WeightsFileError

    path, marker = hostile_torch_file(content={"g_ema": {}})
    with pytest.raises(WeightsFileError, match="could run code"):
        load(path)
    assert not marker.exists()
