"""Read an NVIDIA stylegan2-ada-pytorch network pickle without running any code from it.

Those ``.pkl`` files hold a dict (``G``, ``D``, ``G_ema``, ...) whose networks are "persistent objects": each is
pickled as a call ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta`` carries the
*Python source* of the defining module, the class name and the object's ``__dict__``. Unpickling it the normal
way imports NVIDIA's packages and executes that source. :class:`RestrictedUnpickler` instead resolves only an
allow-list of globals: the persistent-object hook becomes :class:`PersistentRecord` (class name and state,
source ignored), NVIDIA's ``EasyDict`` becomes a plain dict, tensors are rebuilt by PyTorch's own rebuild
functions, and storages are read back with ``torch.load(weights_only=True)``. Any other global (``os.system``,
``builtins.eval``, a class from some package) raises :class:`UnsafePickleError` naming it.
"""

from __future__ import annotations

import collections
import io
import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch._utils

try:  # NumPy 2 moved the scalar constructor; NumPy 1 pickles name the old place
    from numpy._core.multiarray import scalar as _np_scalar
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import scalar as _np_scalar


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something outside the allow-list."""


@dataclass
class PersistentRecord:
    """A persistent object from the pickle: its class name and its ``__dict__`` (never its source code)."""

    class_name: str
    state: dict[str, Any]

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Flatten ``_parameters``, ``_buffers`` and ``_modules`` the way ``nn.Module.state_dict`` names them."""
        out: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if value is not None:
                    out[prefix + name] = value.detach() if isinstance(value, torch.Tensor) else value
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, PersistentRecord):
                out.update(child.tensors(f"{prefix}{name}."))
            elif child is not None:
                raise UnsafePickleError(f"sub-module {prefix}{name} is a {type(child).__name__}, not a network record")
        return out


def _reconstruct_persistent_obj(meta: dict) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise UnsafePickleError("malformed persistent-object record")
    return PersistentRecord(class_name=str(meta.get("class_name")), state=dict(meta["state"]))


class _EasyDict(dict):
    """Stands in for ``dnnlib.util.EasyDict`` (a dict with attribute access) while unpickling."""


def _load_storage_bytes(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED` globals and refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        target = ALLOWED.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"refusing global {module}.{name}: network pickles are read without running code, and only "
                f"tensors, containers and NVIDIA's persistent-object records are allowed"
            )
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r}: not a network pickle")


def _check_lengths(raw: bytes) -> None:
    """Walk the pickle's opcodes without building anything: a length field that runs past the end of the file
    (a corrupt or hostile file asking for gigabytes) is refused here, before any allocation of that size."""
    for _ in pickletools.genops(io.BytesIO(raw)):
        pass


def load_network_pickle(path: Path) -> dict[str, Any]:
    """Unpickle an NVIDIA network pickle safely.

    Args:
        path: the ``.pkl`` file.

    Returns:
        Its top-level dict, networks as :class:`PersistentRecord`.

    Raises:
        UnsafePickleError: the file asks for a global outside the allow-list, or is not a network pickle.
    """
    raw = Path(path).read_bytes()
    try:
        _check_lengths(raw)
        data = RestrictedUnpickler(io.BytesIO(raw)).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, MemoryError, OverflowError) as exc:
        raise UnsafePickleError(f"{path}: not a readable network pickle ({exc})") from None
    if not isinstance(data, dict):
        raise UnsafePickleError(f"{path}: top level is a {type(data).__name__}, expected a dict of networks")
    return data
