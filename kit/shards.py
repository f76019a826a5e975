"""Shards: a stage whose work is independent per face, computed as shards of its faces and merged.

A sharded stage names, in its one definition, the input whose manifest rows are its faces
(``@stage(version=..., shard_by="filtered")``). With ``Runtime.shard_faces`` > 0 the kit cuts those rows into
shards of that many faces, rounded up to whole batches of the config's ``batch_size`` (so every face is computed
in the same batch as in an unsharded run: batched kernels may round differently for other batch shapes), and
runs the stage's function on each shard alone: the sharded input is seen through a ``ShardView`` that holds the
shard's rows only. Each shard is published as an output of its own (stage ``<name>.shard``), keyed by the
stage's key and the shard's rows, so a re-run or a retry recomputes only the shards that are missing. The
shards are then merged into the stage's usual output: manifests and quarantines concatenated in input order,
files copied, infos merged (``merge_infos``; the keys the stage declares in ``sum_info`` add up). Its key is
the unsharded key, and its manifest and files are the unsharded run's bytes however the faces were cut.

``shard_faces`` is a runtime setting: it never enters a key.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kit.store import (
    KEY_LENGTH,
    MANIFEST,
    QUARANTINE,
    STAGE_JSON,
    StageOutput,
    StageResult,
    canonical_json,
    sha256_bytes,
)

SHARD_SUFFIX = ".shard"


def shard_stage(stage: str) -> str:
    """The store folder of a stage's shards (``project`` -> ``project.shard``)."""
    return stage + SHARD_SUFFIX


def cut_shards(*, rows: int, shard_faces: int, batch_size: int = 1) -> list[range]:
    """Cut ``rows`` faces into consecutive shards of ``shard_faces``, rounded up to whole batches.

    Args:
        rows: faces in the sharded input.
        shard_faces: faces per shard (> 0).
        batch_size: the stage's batch; a shard holds a whole number of them (the last shard may hold fewer).

    Returns:
        Row ranges, in input order, covering every row once (none for 0 rows).
    """
    if shard_faces < 1 or batch_size < 1:
        raise ValueError(f"shard_faces ({shard_faces}) and batch_size ({batch_size}) must be at least 1")
    size = -(-shard_faces // batch_size) * batch_size
    return [range(start, min(start + size, rows)) for start in range(0, rows, size)]


def shard_key(*, stage_key: str, rows: range) -> str:
    """The key of one shard: the stage's key (config, inputs, code) and the shard's rows of the sharded input."""
    material = {"stage_key": stage_key, "rows": [rows.start, rows.stop]}
    return sha256_bytes(canonical_json(material).encode())[:KEY_LENGTH]


def shard_address(*, stage: str, stage_key: str, rows: range) -> tuple[str, str]:
    """Where one shard of ``stage`` lives in a store: (its stage folder, its key)."""
    return shard_stage(stage), shard_key(stage_key=stage_key, rows=rows)


@dataclass(frozen=True)
class ShardView(StageOutput):
    """A complete output seen through one shard: its manifest holds the shard's rows only; its files, metadata
    and digest are the whole output's."""

    rows: range = range(0)

    def manifest(self) -> pd.DataFrame:
        return super().manifest().iloc[self.rows.start : self.rows.stop].reset_index(drop=True)


def merge_infos(infos: Sequence[dict[str, Any]], *, summed: Sequence[str] = ()) -> dict[str, Any]:
    """One info from the shards' infos: the ``summed`` keys (counts, seconds) are summed; a value every shard
    agrees on is kept; anything else is listed per shard under ``per_shard``."""
    merged: dict[str, Any] = {}
    per_shard: dict[str, list[Any]] = {}
    for name in dict.fromkeys(k for info in infos for k in info):
        values = [info.get(name) for info in infos]
        if name in summed and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            merged[name] = sum(values)
        elif all(v == values[0] for v in values):
            merged[name] = values[0]
        else:
            per_shard[name] = values
    return merged | ({"per_shard": per_shard} if per_shard else {})


def merge_shards(*, parts: Sequence[StageOutput], work: Path, summed: Sequence[str] = ()) -> StageResult:
    """Merge complete shard outputs into ``work``: their files copied, the tables concatenated in order.

    Args:
        parts: the shards' outputs, in input order.
        work: the merged output's work folder.
        summed: the info keys that add up over shards (``merge_infos``).

    Returns:
        The merged StageResult (the shards' infos merged, and ``shards``: how many).
    """
    reserved = {MANIFEST, QUARANTINE, STAGE_JSON}
    for part in parts:
        folder = part.local_dir()
        for entry in sorted(folder.iterdir()):
            if entry.name in reserved:
                continue
            target = work / entry.name
            if entry.is_dir():
                shutil.copytree(entry, target, dirs_exist_ok=True)
            else:
                shutil.copy2(entry, target)
    manifest = _rows_of([p.manifest() for p in parts])
    quarantine = _rows_of([p.quarantine() for p in parts])
    info = merge_infos([p.metadata()["info"] for p in parts], summed=summed) | {"shards": len(parts)}
    return StageResult(manifest=manifest, quarantine=quarantine, info=info)


def _rows_of(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The tables' rows in order, as one table built from its rows the way a stage builds its own: column types
    then do not depend on how the faces were cut (an empty or all-missing shard column has no type of its own)."""
    records = [row for table in tables for row in table.to_dict("records")]
    if not records:  # every shard empty: as the stage made it (an unsharded run makes the same empty table)
        return tables[0]
    return pd.DataFrame(records, columns=list(tables[0].columns))
