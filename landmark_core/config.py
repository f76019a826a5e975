"""Frozen-dataclass configuration: build from plain dicts (TOML or JSON files), save back as JSON.

Unknown keys are errors that name the key and the section, so a typo in an experiment file cannot be
silently ignored. Lists become tuples so configs stay hashable and frozen.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _convert(kind: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return from_dict(kind, value, where=where)
    origin = typing.get_origin(kind)
    if origin is tuple and isinstance(value, list | tuple):
        return tuple(value)
    if origin in (typing.Union, types.UnionType) and value is not None:
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        return _convert(inner[0], value, where) if len(inner) == 1 else value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; nested dataclasses from nested dicts; missing keys keep defaults.

    Raises:
        ValueError: an unknown key (named with its section).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    return cls(**{k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()})


def to_dict(config: Any) -> dict[str, Any]:
    """The dataclass as plain JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def load_config(cls: type[T], path: Path) -> T:
    """Read ``cls`` from a ``.toml`` or ``.json`` file; errors name the file."""
    path = Path(path)
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise ValueError("config files must end in .toml or .json")
        return from_dict(cls, data)
    except (ValueError, TypeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{path}: {err}") from err
