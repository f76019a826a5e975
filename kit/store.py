"""The store: content-addressed, atomically written, self-describing stage outputs.

A stage output is the directory ``<store>/<stage>/<key>/`` holding ``manifest.parquet`` (one row per item),
``quarantine.parquet`` (rows that could not be processed, with a reason), ``stage.json`` (stage, key,
config, inputs, code version, counts, timings) and the payload files the manifest references by relative
path.

* ``key`` is the stage's key (``kit.stage``): stage name and version, config, input manifest digests and
  the code version of the stage's import closure. Same inputs give the same key; anything else a new one.
* ``manifest.parquet`` holds content only (its digest keys every downstream stage); timings, hosts and dates
  go to ``stage.json``, which is not digested.
* An output is produced in a temporary directory and renamed into place, and ``stage.json`` is the last
  file of a complete output. A crash leaves no visible output; a directory with ``stage.json`` is complete.
  When two processes produce the same key at once, the first rename wins and the other discards its copy.
* The store root is a local path or any fsspec URL (``memory://``, ``s3://``...). Remote stores have no
  atomic directory rename, so there the payload is uploaded first and ``stage.json`` last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
from fsspec.implementations.local import LocalFileSystem

from landmark_core.download import sha256_file

MANIFEST = "manifest.parquet"
QUARANTINE = "quarantine.parquet"
STAGE_JSON = "stage.json"
TMP_PREFIX = ".tmp-"
KEY_LENGTH = 20


def canonical_json(value: Any, *, for_key: bool = False) -> str:
    """Canonical JSON of a config: dataclasses/pydantic models as dicts, sorted keys, paths as strings.

    With ``for_key``, dataclass fields declared ``field(metadata={"key": False})`` are left out: where a thing
    is (a download folder), not what it is, so the same content keys the same wherever it was found. Fields
    declared ``field(metadata={"key": "unless_default"})`` are left out while they hold their default: a
    setting added later keys nothing differently until it is used.
    """
    return json.dumps(_plain(value, for_key), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _keyed(value: Any, f: dataclasses.Field) -> bool:
    """Whether a dataclass field enters a key (see ``canonical_json``)."""
    rule = f.metadata.get("key", True)
    if rule == "unless_default":
        return getattr(value, f.name) != f.default
    return bool(rule)


def _plain(value: Any, for_key: bool) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f for f in dataclasses.fields(value) if not for_key or _keyed(value, f)]
        return {f.name: _plain(getattr(value, f.name), for_key) for f in fields}
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"), for_key)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, for_key) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, for_key) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"stage configs must be JSON-like, dataclasses or pydantic models; got {type(value).__name__}")


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def file_manifest(*, work: Path, under: str) -> pd.DataFrame:
    """One row per file below ``work/under``: its path relative to ``work``, size and sha256.

    A stage whose payload is a folder of files uses this as its manifest, so the manifest digest (and with it
    every downstream key) changes whenever any file's bytes change, not only when names do.
    """
    rows = []
    for path in sorted(p for p in (work / under).rglob("*") if p.is_file()):
        relative = path.relative_to(work).as_posix()
        rows.append({"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return pd.DataFrame(rows, columns=["path", "bytes", "sha256"])


@dataclass
class StageResult:
    """What a stage's compute function returns; payload files are already written into the work directory.

    Attributes:
        manifest: one row per item (stable ids, payload paths relative to the output directory).
        quarantine: rows that could not be processed, each with a ``reason`` column.
        info: extra JSON-like facts recorded in ``stage.json``.
    """

    manifest: pd.DataFrame
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"reason": pd.Series(dtype=str)}))
    info: dict[str, Any] = field(default_factory=dict)


class Store:
    """A root of stage outputs, given as a local path or an fsspec URL.

    ``Store(root)`` makes a local root's folder (the commands that write); ``Store(root, create=False)`` and
    ``Store.open_existing(root)`` touch nothing, for the commands that only read: a failed or read-only command
    leaves no empty store behind.
    """

    def __init__(self, root: str | os.PathLike, *, create: bool = True) -> None:
        """Open the store at ``root``.

        Args:
            root: a local path or an fsspec URL.
            create: make a local root folder that does not exist yet; with False nothing is created (a missing
                store then has no outputs).
        """
        self.url = str(root)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local and create:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    @classmethod
    def open_existing(cls, root: str | os.PathLike) -> Store:
        """A store that must exist already, opened without creating anything (for the commands that only read).

        A remote root (an fsspec URL) is not checked: an object store has no folders to find, and a missing one
        simply has no outputs.

        Args:
            root: a local path or an fsspec URL.

        Returns:
            The store.

        Raises:
            FileNotFoundError: a local root that does not exist (one line naming it).
            NotADirectoryError: a local root that is a file.
        """
        store = cls(root, create=False)
        if store.local and not Path(store.root).is_dir():
            if Path(store.root).exists():
                raise NotADirectoryError(f"{store.url}: a file, not a store folder")
            raise FileNotFoundError(f"{store.url}: no such store (nothing at that path)")
        return store

    def path(self, stage: str, key: str) -> str:
        """Path (within the filesystem) of one stage output."""
        return f"{self.root.rstrip('/')}/{stage}/{key}"

    def is_complete(self, stage: str, key: str) -> bool:
        """True when the output exists and is complete (its ``stage.json`` is present)."""
        return self.fs.exists(f"{self.path(stage, key)}/{STAGE_JSON}")

    def output(self, stage: str, key: str) -> StageOutput:
        """A handle on a complete output; raises FileNotFoundError when it is missing or incomplete."""
        if not self.is_complete(stage, key):
            raise FileNotFoundError(f"no complete output for stage {stage!r} key {key} in {self.url}")
        return StageOutput(store=self, stage=stage, key=key)

    def outputs(self, stage: str) -> list[StageOutput]:
        """Every complete output of ``stage``, newest first (by the time its ``stage.json`` says it finished)."""
        found = []
        for path in self.fs.glob(f"{self.root.rstrip('/')}/{stage}/*/{STAGE_JSON}"):
            output = StageOutput(store=self, stage=stage, key=path.rstrip("/").split("/")[-2])
            found.append((output.metadata().get("timings", {}).get("finished", ""), output.key, output))
        return [output for *_, output in sorted(found, key=lambda f: (f[0], f[1]), reverse=True)]

    def scratch(self, stage: str, key: str) -> Path:
        """The persistent local work area of one key (checkpoints of a long stage), kept across crashes so a
        re-run resumes; ``<root>/.scratch/<stage>/<key>`` on a local store, the system temp dir otherwise.
        Only the path: whoever writes there creates it."""
        base = Path(self.root) / ".scratch" if self.local else Path(tempfile.gettempdir()) / "eltrepro-scratch"
        return base / stage / key

    def write_problem(self) -> str | None:
        """Why this store cannot be written (a probe file is written and removed), or None when it can."""
        probe = f"{self.root.rstrip('/')}/.probe-{uuid.uuid4().hex[:8]}"
        try:
            self.fs.pipe_file(probe, b"ok")
            self.fs.rm(probe)
        except Exception as error:  # any failure is the answer: permissions, credentials, a full disk
            return f"{type(error).__name__}: {error}"
        return None

    def clean_temporaries(self, stage: str, *, key: str | None = None, older_than_s: float = 0.0) -> int:
        """Remove half-written copies of crashed writers (``.tmp-<key>-*``; every key when ``key`` is None)
        older than ``older_than_s``; returns how many. Call it holding the key's lease (``kit.lease``): then
        no live writer of that key exists."""
        if not self.local:
            return 0
        base = Path(self.root) / stage
        removed = 0
        for tmp in base.glob(f"{TMP_PREFIX}{key or ''}*") if base.is_dir() else []:
            if time.time() - tmp.stat().st_mtime >= older_than_s:
                shutil.rmtree(tmp, ignore_errors=True)
                removed += 1
        return removed


@dataclass(frozen=True)
class StageOutput:
    """A complete stage output in a store."""

    store: Store
    stage: str
    key: str

    @property
    def path(self) -> str:
        return self.store.path(self.stage, self.key)

    def metadata(self) -> dict[str, Any]:
        """The parsed ``stage.json``."""
        with self.store.fs.open(f"{self.path}/{STAGE_JSON}", "r") as handle:
            return json.load(handle)

    @property
    def digest(self) -> str:
        """sha256 of ``manifest.parquet``, recorded at write time; downstream keys are derived from it."""
        return self.metadata()["manifest_sha256"]

    def manifest(self) -> pd.DataFrame:
        return self._table(MANIFEST)

    def quarantine(self) -> pd.DataFrame:
        return self._table(QUARANTINE)

    def _table(self, name: str) -> pd.DataFrame:
        with self.store.fs.open(f"{self.path}/{name}", "rb") as handle:
            return pd.read_parquet(io.BytesIO(handle.read()))

    def local_dir(self, cache: Path | None = None) -> Path:
        """A local directory with the output's files (the output itself on a local store, else a cached copy)."""
        if self.store.local:
            return Path(self.path)
        cache = Path(cache or Path(tempfile.gettempdir()) / "eltrepro-store-cache") / self.stage / self.key
        if not (cache / STAGE_JSON).is_file():
            staging = cache.parent / f"{TMP_PREFIX}{self.key}-{uuid.uuid4().hex[:8]}"
            self.store.fs.get(f"{self.path}/", str(staging), recursive=True)
            _rename_into_place(staging, cache)
        return cache


def _rename_into_place(tmp: Path, final: Path) -> bool:
    """Atomically rename ``tmp`` to ``final``; False (and ``tmp`` removed) when ``final`` already exists."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, final)
        return True
    except OSError:
        if (final / STAGE_JSON).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise


def write_tables(work: Path, result: StageResult) -> str:
    manifest_bytes = _parquet_bytes(result.manifest)
    (work / MANIFEST).write_bytes(manifest_bytes)
    (work / QUARANTINE).write_bytes(_parquet_bytes(result.quarantine))
    return sha256_bytes(manifest_bytes)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def work_dir(store: Store, stage: str, key: str) -> Path:
    """A fresh temporary directory; on a local store beside the final one so the rename is atomic."""
    name = f"{TMP_PREFIX}{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if not store.local:
        return Path(tempfile.mkdtemp(prefix=f"{name}-"))
    work = Path(store.root) / stage / name
    work.mkdir(parents=True)
    return work


def publish(store: Store, stage: str, key: str, work: Path) -> None:
    """Move a finished work directory (``stage.json`` written last) into place as ``<stage>/<key>``."""
    final = store.path(stage, key)
    if store.local:
        _rename_into_place(work, Path(final))
        return
    staging = f"{store.root.rstrip('/')}/{stage}/{work.name}"
    store.fs.put(f"{work}/", staging, recursive=True)
    for path in sorted(store.fs.find(staging)):
        relative = path[len(staging) :].lstrip("/")
        if relative != STAGE_JSON:
            store.fs.mv(path, f"{final}/{relative}")
    store.fs.mv(f"{staging}/{STAGE_JSON}", f"{final}/{STAGE_JSON}")
    if store.fs.exists(staging):
        store.fs.rm(staging, recursive=True)
