"""The experiment matrix: which models to train, as data (``elt_study/experiments/*.toml``), not code.

A matrix file holds ``[[row]]`` tables. Every row has a unique ``name``, the study tables it feeds
(``tables``), whether it trains on the GAN-relit faces as well (``relit``), and overrides of the profile's base
``TrainConfig`` in the same sections a config file uses (``model``, ``augment``, ``loss``, or top-level keys
such as ``seed`` under ``train``). ``row_config`` merges a row into a base config; unknown keys are errors
that name the file, the row and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from landmark_core.config import ConfigError, from_dict, read_table_file, to_dict
from landmark_core.train_config import TrainConfig

MATRIX_DIR = Path(__file__).resolve().parent / "experiments"
RELIGHT_BACKENDS = ("styleflow", "physical", "styleflow_edit")  # the study's method first
FUTURE_WORK = "future_work"  # in a row selection: every row that tests the study's future work
ROW_KEYS = {
    "name",
    "label",
    "lighting_label",
    "control",
    "tables",
    "relit",
    "beyond_study",
    "future_work",
    "model",
    "augment",
    "loss",
    "train",
}


@dataclass(frozen=True)
class ExperimentRow:
    """One row of the matrix.

    Attributes:
        name: unique id, used in run folders and report tables.
        label: the study's wording of the row ("λelt = 0.25, r1 = 0, r2 = 0.05"); the report shows it.
        lighting_label: its wording in the lighting tables 4.5-4.9 ("ELT"), when it differs from ``label``.
        control: the row it is compared with, face by face (``two_step_l0`` for the ELT rows, ``baseline``
            for the others); "" for none.
        tables: the study tables the row appears in (e.g. "4.1", "4.5").
        relit: "" (no relit faces), or the backend whose GAN-made faces the row adds to its training set:
            ``styleflow`` (relit, the study's method), ``physical`` (relit, beyond the study) or
            ``styleflow_edit`` (the profile's other StyleFlow attribute edit, ``[gan.styleflow_edit]``).
        beyond_study: a row the study did not have; the report labels it so.
        future_work: which item of the study's future work (or its untested claim) the row tests, in words
            ("unlabelled data", "more transformations", ...); the report shows these rows in "The study's
            future work, tested". Such a row is beyond the study and feeds none of the study's tables.
        overrides: nested config overrides, merged into the profile's base TrainConfig.
    """

    name: str
    label: str = ""
    lighting_label: str = ""
    control: str = ""
    tables: tuple[str, ...] = ()
    relit: str = ""
    beyond_study: bool = False
    future_work: str = ""
    overrides: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` on top; tables (dicts) merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def row_config(*, base: TrainConfig, row: ExperimentRow) -> TrainConfig:
    """The row's full training config: the base with the row's overrides applied.

    Raises:
        ValueError: an override names an unknown key or gives an invalid value (the row is named).
    """
    overrides = {k: v for k, v in row.overrides.items() if k != "train"} | row.overrides.get("train", {})
    return from_dict(TrainConfig, deep_merge(to_dict(base), overrides), where=f"experiment row {row.name!r}")


def seeded_configs(*, base: TrainConfig, row: ExperimentRow, seeds: tuple[int, ...]) -> dict[str, TrainConfig]:
    """The row's training config once per seed, by run name (the row's name alone when it has one seed)."""
    config = row_config(base=base, row=row)
    names = {seed: row.name if len(seeds) == 1 else f"{row.name}-seed{seed}" for seed in seeds}
    return {names[seed]: replace(config, seed=seed) for seed in seeds}  # init, shuffling, augmentation, val split


def load_matrix(path: Path, *, base: TrainConfig | None = None) -> list[ExperimentRow]:
    """Read a matrix file; every row is checked against ``base`` (default TrainConfig()) so errors show early.

    Raises:
        ValueError: unreadable TOML, a row without a name, a duplicate name, an unknown row key or override.
    """
    path = Path(path)
    data = read_table_file(path)
    rows, seen = [], set()
    for i, raw in enumerate(data.get("row", []), start=1):
        unknown = sorted(set(raw) - ROW_KEYS)
        if "name" not in raw or unknown:
            raise ConfigError(f"{path}: row {i}: needs a name; allowed keys {sorted(ROW_KEYS)}, unknown {unknown}")
        if raw["name"] in seen:
            raise ConfigError(f"{path}: row {i}: duplicate name {raw['name']!r}")
        seen.add(raw["name"])
        overrides = {k: raw[k] for k in ("model", "augment", "loss", "train") if k in raw}
        relit = raw.get("relit", "")
        if relit not in ("", *RELIGHT_BACKENDS):
            raise ConfigError(f"{path}: row {i}: relit = {relit!r}: expected one of {', '.join(RELIGHT_BACKENDS)}")
        fields = {k: v for k, v in raw.items() if k not in overrides}
        row = replace(from_dict(ExperimentRow, fields, where=f"{path}: row {i}"), overrides=overrides)
        if row.future_work and (not row.beyond_study or row.tables):
            raise ConfigError(
                f"{path}: row {i} ({row.name}): a future_work row needs beyond_study = true and no tables"
            )
        try:
            row_config(base=base or TrainConfig(), row=row)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: no [[row]] tables")
    unknown = [f"{r.name} -> {r.control}" for r in rows if r.control and r.control not in seen]
    if unknown:
        raise ConfigError(f"{path}: control names an unknown row: {', '.join(unknown)}")
    return rows


def select_rows(rows: list[ExperimentRow], names: list[str] | None) -> list[ExperimentRow]:
    """The rows named in ``names`` (all when None), in matrix order; an unknown name is an error.

    The name ``future_work`` stands for every row marked ``future_work`` (with their controls, so each contrast
    can be judged)."""
    if not names:
        return rows
    if FUTURE_WORK in names:
        future = [r for r in rows if r.future_work]
        names = [n for n in names if n != FUTURE_WORK] + [n for r in future for n in (r.name, r.control) if n]
    known = {r.name for r in rows}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"unknown experiment(s) {missing}; known: {', '.join(r.name for r in rows)}")
    return [r for r in rows if r.name in set(names)]
