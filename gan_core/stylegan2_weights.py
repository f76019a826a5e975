"""Load published StyleGAN2 weights into :class:`gan_core.stylegan2.Generator`, strictly and without running code.

Two formats:

(a) the PyTorch checkpoint of the widely used rosinality converter: ``{"g_ema": state_dict, "latent_avg": [512],
    ...}`` read with ``torch.load(weights_only=True)``; the state dict's names are the generator's own.
(b) an NVIDIA stylegan2-ada-pytorch network pickle: read by :mod:`gan_core.safe_pickle` (no code from the file
    runs) and renamed key by key from the NVIDIA layout (``mapping.fc0``, ``synthesis.b4.conv1``, ...).

Both are strict: every tensor of the file is used or checked (the fixed [1,3,3,1] resampling filters), every
parameter and buffer of the module is filled, every shape matches; anything else raises
:class:`WeightsMismatchError` listing the offending keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_core.safe_pickle import PersistentRecord, UnsafePickleError, load_network_pickle
from gan_core.strict import WeightsMismatchError, load_strict
from gan_core.stylegan2 import Generator
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.upfirdn import make_filter
from landmark_core.weights_file import load_weights_file


@dataclass
class LoadedGenerator:
    """A generator with its published weights, the tracked mean W (``latent_avg``) and where it came from."""

    generator: Generator
    latent_avg: torch.Tensor | None  # [style_dim]
    source: str


def config_from_state(
    state: dict[str, torch.Tensor], *, lr_mlp: float = 0.01, conv_clamp: float | None = None
) -> GeneratorConfig:
    """Infer the generator shape from a (rosinality-named) state dict.

    Raises:
        WeightsMismatchError: the channel widths do not follow ``min(channel_max, channel_base // res)``.
    """
    style_dim = state["style.1.weight"].shape[1]
    n_mlp = sum(1 for k in state if k.startswith("style.") and k.endswith(".weight"))
    n_rgbs = sum(1 for k in state if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    resolution = 2 ** (n_rgbs + 2)
    widths = {4: state["input.input"].shape[1]}
    for k in range(n_rgbs):
        widths[2 ** (k + 3)] = state[f"to_rgbs.{k}.conv.weight"].shape[2]
    channel_max = max(widths.values())
    below = [r * c for r, c in widths.items() if c < channel_max]
    channel_base = min(below) if below else channel_max * resolution
    config = GeneratorConfig(
        resolution=resolution,
        style_dim=style_dim,
        n_mlp=n_mlp,
        channel_base=channel_base,
        channel_max=channel_max,
        lr_mlp=lr_mlp,
        conv_clamp=conv_clamp,
    )
    if any(config.channels(r) != c for r, c in widths.items()):
        raise WeightsMismatchError(f"channel widths {widths} do not follow min({channel_max}, {channel_base} // res)")
    return config


def load_rosinality(path: Path, *, config: GeneratorConfig | None = None) -> LoadedGenerator:
    """Load a rosinality-format checkpoint (``g_ema`` + ``latent_avg``) with ``torch.load(weights_only=True)``.

    Args:
        path: the ``.pt`` file.
        config: expected shape; None infers it from the tensors.
    """
    ckpt = load_weights_file(path, what="StyleGAN2 checkpoint")
    if not isinstance(ckpt, dict) or "g_ema" not in ckpt:
        found = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise WeightsMismatchError(f"{path}: no 'g_ema' state dict (found {found})")
    state = dict(ckpt["g_ema"])
    generator = Generator(config or config_from_state(state))
    load_strict(generator, state, source=str(path))
    latent_avg = ckpt.get("latent_avg")
    return LoadedGenerator(
        generator=generator.eval(),
        latent_avg=None if latent_avg is None else latent_avg.float(),
        source=f"rosinality:{path}",
    )


def _block_names(log_size: int) -> list[tuple[str, str, int | None]]:
    """(NVIDIA layer prefix, rosinality layer prefix, noise index) for each synthesis conv layer."""
    names = [("synthesis.b4.conv1", "conv1", 0)]
    for k in range(log_size - 2):
        res = 2 ** (k + 3)
        names.append((f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1))
        names.append((f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2))
    return names


def ada_to_rosinality(ada: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """Rename an NVIDIA ``G_ema`` state (flat names) to the generator's names.

    Returns:
        (state dict without the fixed blur buffers, ``mapping.w_avg`` or None).

    Raises:
        WeightsMismatchError: an NVIDIA tensor is neither used nor a [1,3,3,1] resampling filter.
    """
    src = dict(ada)
    out: dict[str, torch.Tensor] = {}
    taken = set()

    def take(key: str) -> torch.Tensor:
        if key not in src:
            raise WeightsMismatchError(f"NVIDIA state has no {key}")
        taken.add(key)
        return src[key]

    n_mlp = sum(1 for k in src if k.startswith("mapping.fc") and k.endswith(".weight"))
    for i in range(n_mlp):
        out[f"style.{i + 1}.weight"] = take(f"mapping.fc{i}.weight")
        out[f"style.{i + 1}.bias"] = take(f"mapping.fc{i}.bias")
    out["input.input"] = take("synthesis.b4.const")[None]
    log_size = int(math.log2(max(int(k.split(".")[1][1:]) for k in src if k.startswith("synthesis.b"))))
    for nv, ro, noise in _block_names(log_size):
        out[f"{ro}.conv.weight"] = take(f"{nv}.weight")[None]
        out[f"{ro}.conv.modulation.weight"] = take(f"{nv}.affine.weight")
        out[f"{ro}.conv.modulation.bias"] = take(f"{nv}.affine.bias")
        out[f"{ro}.noise.weight"] = take(f"{nv}.noise_strength").reshape(1)
        out[f"{ro}.activate.bias"] = take(f"{nv}.bias")
        out[f"noises.noise_{noise}"] = take(f"{nv}.noise_const")[None, None]
    for k in range(log_size - 1):
        nv = f"synthesis.b{2 ** (k + 2)}.torgb"
        ro = "to_rgb1" if k == 0 else f"to_rgbs.{k - 1}"
        out[f"{ro}.conv.weight"] = take(f"{nv}.weight")[None]
        out[f"{ro}.conv.modulation.weight"] = take(f"{nv}.affine.weight")
        out[f"{ro}.conv.modulation.bias"] = take(f"{nv}.affine.bias")
        out[f"{ro}.bias"] = take(f"{nv}.bias").reshape(1, 3, 1, 1)
    w_avg = src.get("mapping.w_avg")
    taken.add("mapping.w_avg")
    fir = make_filter()
    for key in sorted(set(src) - taken):
        if key.endswith("resample_filter") and src[key].shape == fir.shape and torch.allclose(src[key], fir):
            continue
        raise WeightsMismatchError(f"NVIDIA tensor {key} {tuple(src[key].shape)} has no place in the generator")
    return out, w_avg


def with_fixed_buffers(state: dict[str, torch.Tensor], config: GeneratorConfig) -> dict[str, torch.Tensor]:
    """Add the blur/upsample filter buffers (constants the NVIDIA format does not store per layer)."""
    fixed = {k: v for k, v in Generator(config).state_dict().items() if k.endswith(".kernel")}
    return {**state, **fixed}


def load_ada_pickle(path: Path, *, network: str = "G_ema") -> LoadedGenerator:
    """Load the generator of an NVIDIA stylegan2-ada-pytorch ``.pkl`` without executing its pickled code.

    Args:
        path: the network pickle.
        network: which network of the pickle (``G_ema``, the averaged generator, is what the study used).

    Raises:
        UnsafePickleError: the pickle asks for a global outside the allow-list.
        WeightsMismatchError: the tensors do not fit a StyleGAN2 generator.
    """
    data = load_network_pickle(path)
    record = data.get(network)
    if not isinstance(record, PersistentRecord):
        raise UnsafePickleError(f"{path}: no network record {network!r} (has {sorted(data)})")
    kwargs = record.state.get("_init_kwargs") or {}
    synth = kwargs.get("synthesis_kwargs") or {}
    state, w_avg = ada_to_rosinality(record.tensors())
    config = config_from_state(
        state,
        lr_mlp=float((kwargs.get("mapping_kwargs") or {}).get("lr_multiplier", 0.01)),
        conv_clamp=synth.get("conv_clamp"),
    )
    generator = Generator(config)
    load_strict(generator, with_fixed_buffers(state, config), source=str(path))
    return LoadedGenerator(generator=generator.eval(), latent_avg=w_avg, source=f"nvidia-pkl:{path}")


def load_generator(path: Path) -> LoadedGenerator:
    """Load either format, chosen by the file suffix (``.pkl`` NVIDIA, anything else rosinality)."""
    return load_ada_pickle(path) if Path(path).suffix == ".pkl" else load_rosinality(path)
