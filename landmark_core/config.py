"""Frozen-dataclass configuration: validated from plain data (TOML or JSON files), saved back as JSON.

Validation is pydantic's (a ``TypeAdapter`` of the dataclass as it is, JSON mode, strict): every value must
have its field's type (``"x"`` is not a number, ``3.5`` is not an integer, ``true`` is not a float), ranges
declared with ``Annotated[..., Field(ge=...)]`` hold, and unknown keys are errors. A mistake is reported as one
line naming where it is (file and key), the value, and what was expected. Lists become tuples, so configs stay
hashable and frozen.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value that does not fit its field (one line: where, key, value, what was expected)."""


def _forbid_extra(kind: Any, seen: set[Any]) -> None:
    """Mark ``kind`` and every dataclass it contains as refusing unknown keys."""
    if kind in seen:
        return
    seen.add(kind)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if "__pydantic_config__" not in vars(kind):
            kind.__pydantic_config__ = ConfigDict(extra="forbid")
        for hint in typing.get_type_hints(kind, include_extras=True).values():
            _forbid_extra(hint, seen)
    for arg in typing.get_args(kind):
        _forbid_extra(arg, seen)


@cache
def _adapter(cls: type) -> TypeAdapter:
    _forbid_extra(cls, set())
    return TypeAdapter(cls)


def describe(error: ValidationError, *, where: str, key: str = "") -> str:
    """One line for a validation error: ``where: key = value: what was expected`` for each problem.

    ``key`` is the section the data came from (``train``), prefixed to every key named.
    """
    parts = []
    for problem in error.errors(include_url=False):
        key_path = ".".join([key] * bool(key) + [str(p) for p in problem["loc"]])
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"] or (problem["type"] == "value_error" and isinstance(problem["input"], dict)):
            parts.append(f"{key_path + ': ' if key_path else ''}{message}")  # a check of a whole (nested) table
        elif problem["type"] == "unexpected_keyword_argument":
            parts.append(f"unknown key {key_path!r}")
        elif problem["type"] == "missing_argument":
            parts.append(f"missing key {key_path!r}")
        else:
            parts.append(f"{key_path} = {problem['input']!r}: {message[0].lower()}{message[1:]}")
    return f"{where}: " + "; ".join(parts)


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config", key: str = "") -> T:
    """Validate ``data`` into dataclass ``cls``; nested dataclasses from nested dicts; missing keys keep defaults.

    Args:
        cls: a (frozen) dataclass.
        data: plain data (a TOML/JSON table).
        where: the file (or other origin) named in errors.
        key: the section ``data`` is, named in errors (``train`` -> ``train.loss.elt_lambda``).

    Raises:
        ConfigError: a value of the wrong type or out of range, or an unknown key (one line, named).
    """
    try:
        payload = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: not plain data: {err}") from None
    return from_json(cls, payload, where=where, key=key)


def from_json(cls: type[T], text: str | bytes, *, where: str = "config", key: str = "") -> T:
    """``from_dict`` for JSON text (a request's body): the same validation, and text that is not JSON is refused.

    Args:
        cls: a (frozen) dataclass.
        text: a JSON document (bytes must be UTF-8).
        where: the origin named in errors.
        key: the section ``text`` is, named in errors.

    Returns:
        The validated ``cls``.

    Raises:
        ConfigError: not JSON, a value of the wrong type or out of range, or an unknown key (one line, named).
    """
    try:
        return _adapter(cls).validate_json(text, strict=True)
    except ValidationError as err:
        raise ConfigError(describe(err, where=where, key=key)) from None


def override(config: T, *, changes: Mapping[str, tuple[str, Any]]) -> T:
    """``config`` with some top-level values replaced, validated exactly as a config file's values are.

    A command-line flag that overrides a config value goes through here, so ``--epochs -3`` is refused as
    ``max_epochs = -3`` in a file would be, instead of building the dataclass around its validation.

    Args:
        config: a validated (frozen) dataclass.
        changes: field -> (the flag that set it, its value); a value of None (a flag not given) changes nothing.

    Returns:
        A new, validated config of the same type (``config`` itself when nothing changes).

    Raises:
        ConfigError: one line naming the flag, the value and the rule it breaks.
    """
    given = {key: value for key, (_, value) in changes.items() if value is not None}
    if not given:
        return config
    data = to_dict(config)
    for key, value in given.items():  # one at a time, so the error names the flag
        from_dict(type(config), data | {key: value}, where=f"{changes[key][0]} {value}")
    return from_dict(type(config), data | given, where="options")


def to_dict(config: Any) -> dict[str, Any]:
    """The dataclass as plain JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def read_table_file(path: Path) -> dict[str, Any]:
    """A ``.toml`` or ``.json`` file as plain data; errors name the file (and the line, for TOML).

    Raises:
        ConfigError: missing file, unknown suffix, or a syntax error.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix == ".json":
            return json.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: {err}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: line {err.lineno}: {err.msg}") from None
    raise ConfigError(f"{path}: config files must end in .toml or .json")


def load_config(cls: type[T], path: Path) -> T:
    """Read ``cls`` from a ``.toml`` or ``.json`` file; errors name the file and the key."""
    return from_dict(cls, read_table_file(path), where=str(path))
