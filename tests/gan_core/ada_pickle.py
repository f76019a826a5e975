"""Write NVIDIA-style (stylegan2-ada-pytorch) network pickles in tests, without NVIDIA's code.

A persistent network is pickled as a call of ``torch_utils.persistence._reconstruct_persistent_obj(meta)``; here a
throw-away module of that name is put in ``sys.modules`` just while pickling so the reference resolves, and each
network becomes a :class:`_Net` whose ``__reduce__`` emits that call with the meta dict NVIDIA's code writes
(type, version, module source, class name, ``__dict__`` with ``_parameters``/``_buffers``/``_modules``).
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import torch

BUFFERS = ("noise_const", "resample_filter", "w_avg")


def _reconstruct(meta):  # pragma: no cover - only its name is pickled
    raise AssertionError("never called")


class _Net:
    def __init__(self, class_name: str, module_src: str = "", **attrs):
        self.meta = {
            "type": "class",
            "version": 4,
            "module_src": module_src,
            "class_name": class_name,
            "state": {"_parameters": {}, "_buffers": {}, "_modules": {}, "training": False, **attrs},
        }

    def __reduce__(self):
        return (_reconstruct, (self.meta,))


def tree(flat: dict[str, torch.Tensor], class_name: str = "Generator", module_src: str = "", **attrs) -> _Net:
    """Nest ``a.b.c`` keys into persistent records, parameters as ``nn.Parameter``, known buffers as buffers."""
    root = _Net(class_name, module_src, **attrs)
    for key, value in flat.items():
        node, *path, leaf = [root, *key.split(".")]
        for part in path:
            modules = node.meta["state"]["_modules"]
            node = modules.setdefault(part, _Net(part, module_src))
        group = "_buffers" if leaf in BUFFERS else "_parameters"
        node.meta["state"][group][leaf] = value.clone() if group == "_buffers" else torch.nn.Parameter(value.clone())
    return root


def write_ada_pickle(path: Path, data: dict) -> None:
    """Pickle ``data`` (values may be :func:`tree` records) as NVIDIA's training loop does."""
    fake = types.ModuleType("torch_utils.persistence")
    _reconstruct.__module__, _reconstruct.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    fake._reconstruct_persistent_obj = _reconstruct
    saved = {k: sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence")}
    sys.modules["torch_utils"] = types.ModuleType("torch_utils")
    sys.modules["torch_utils.persistence"] = fake
    try:
        with open(path, "wb") as f:
            pickle.dump(data, f)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
