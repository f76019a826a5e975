"""Regenerate the reference values in this folder from the published implementations.

Run with NVIDIA's stylegan2-ada-pytorch checkout on PYTHONPATH and the ``lpips`` package installed (it needs a
torchvision that imports beside the installed torch; the project's own environment deliberately has neither):

    PYTHONPATH=/path/to/stylegan2-ada-pytorch:. python tests/data/reference/make_reference.py

Writes ``stylegan2_ada_tiny.json`` (a 32x32 NVIDIA generator with :func:`fill` weights: its mapping output for
fixed Z and its image for a fixed W+ with the stored noise) and ``lpips_vgg.json`` (LPIPS-VGG v0.1 of fixed
image pairs with :func:`fill` weights). No file produced here holds weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fill import fill  # noqa: E402

TINY_ADA = dict(
    z_dim=32,
    c_dim=0,
    w_dim=32,
    img_resolution=32,
    img_channels=3,
    mapping_kwargs=dict(num_layers=2),
    synthesis_kwargs=dict(channel_base=256, channel_max=16),
)


def stylegan2() -> dict:
    from training.networks import Generator  # NVIDIA's code

    G = Generator(**TINY_ADA).eval()
    with torch.no_grad():
        for name, t in G.state_dict().items():
            if not name.endswith("resample_filter"):
                t.copy_(fill(name, t.shape))
        z = fill("z", (2, 32))
        ws_map = G.mapping(z, None)[:, 0]
        wplus = fill("wplus", (2, G.num_ws, 32))
        img = G.synthesis(wplus, noise_mode="const", force_fp32=True)
    return {
        "config": TINY_ADA,
        "num_ws": G.num_ws,
        "ada_keys": {k: list(v.shape) for k, v in G.state_dict().items()},
        "mapping": ws_map.tolist(),
        "image": img.tolist(),
    }


def lpips_vgg() -> dict:
    import lpips

    model = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False).eval()
    with torch.no_grad():
        for name, t in model.named_parameters():
            t.copy_(fill(name, t.shape).abs() if name.startswith("lin") else fill(name, t.shape, scale=0.05))
        a = fill("img_a", (2, 3, 64, 64))
        b = fill("img_b", (2, 3, 64, 64)) * 0.5
        d = model(a, b).flatten()
    return {"keys": {k: list(v.shape) for k, v in model.state_dict().items()}, "distance": d.tolist()}


if __name__ == "__main__":
    (HERE / "stylegan2_ada_tiny.json").write_text(json.dumps(stylegan2()))
    (HERE / "lpips_vgg.json").write_text(json.dumps(lpips_vgg()))
    print("wrote", sorted(p.name for p in HERE.glob("*.json")))
