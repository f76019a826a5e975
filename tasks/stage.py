"""The stage contract: content-addressed, atomically written, self-describing stage outputs.

A stage output is the directory ``<store>/<stage>/<key>/`` holding ``manifest.parquet`` (one row per item),
``quarantine.parquet`` (rows that could not be processed, with a reason), ``stage.json`` (stage, key,
params, inputs, code version, counts, timings) and the payload files the manifest references by relative
path.

* ``key`` hashes the stage name and version, the canonical params, the digests of the input manifests and
  the code version of the stage's own modules. Same inputs give the same key; anything else a new one.
* An output is produced in a temporary directory and renamed into place, and ``stage.json`` is the last
  file of a complete output. A crash leaves no visible output; a directory with ``stage.json`` is complete.
  When two processes produce the same key at once, the first rename wins and the other discards its copy.
* The store root is a local path or any fsspec URL (``memory://``, ``s3://``...). Remote stores have no
  atomic directory rename, so there the payload is uploaded first and ``stage.json`` last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.resources
import io
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def canonical_json(value: Any) -> str:
    """Canonical JSON of params: dataclasses/pydantic models as dicts, sorted keys, paths as strings."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"stage params must be JSON-like, dataclasses or pydantic models; got {type(value).__name__}")


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
        rows.append({"path": path.relative_to(work).as_posix(), "bytes": path.stat().st_size,
                     "sha256": sha256_file(path)})  # fmt: skip
    return pd.DataFrame(rows, columns=["path", "bytes", "sha256"])


def code_version(modules: Sequence[str]) -> str:
    """Digest of the source files of the given modules (every ``.py`` file below a package).

    An entry ``package:relative/path`` names a package data file (a model table, say) instead.
    Only the stage's own modules count, so an edit elsewhere does not invalidate its outputs.
    """
    digest = hashlib.sha256()
    for name in sorted(modules):
        if ":" in name:
            package, resource = name.split(":", 1)
            digest.update(f"{name}\n".encode())
            digest.update(importlib.resources.files(package).joinpath(resource).read_bytes())
            continue
        module = importlib.import_module(name)
        origin = Path(module.__file__)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for path in files:
            digest.update(f"{name}:{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class StageSpec:
    """Identity of a stage: its name, a version to bump by hand on a semantic change, and its modules."""

    name: str
    version: int
    modules: tuple[str, ...]

    def key(self, *, params: Any, input_digests: Mapping[str, str], code: str | None = None) -> str:
        """The content-derived key of this stage for the given params and input manifest digests.

        ``code`` is this stage's ``code_version`` when the caller has it already (computed here otherwise).
        """
        material = {
            "stage": self.name, "version": self.version, "params": json.loads(canonical_json(params)),
            "inputs": dict(sorted(input_digests.items())), "code": code or code_version(self.modules),
        }  # fmt: skip
        return sha256_bytes(canonical_json(material).encode())[:KEY_LENGTH]


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
    """A root of stage outputs, given as a local path or an fsspec URL."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.url = str(root)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

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

    def scratch(self, stage: str, key: str) -> Path:
        """The persistent local work area of one key (checkpoints of a long stage), kept across crashes so a
        re-run resumes; ``<root>/.scratch/<stage>/<key>`` on a local store, the system temp dir otherwise.
        Only the path: whoever writes there creates it."""
        base = Path(self.root) / ".scratch" if self.local else Path(tempfile.gettempdir()) / "eltrepro-scratch"
        return base / stage / key

    def clean_temporaries(self, stage: str, older_than_s: float = 3600.0) -> int:
        """Remove leftovers of crashed writers (``.tmp-*`` older than ``older_than_s``); returns how many."""
        if not self.local:
            return 0
        base = Path(self.root) / stage
        removed = 0
        for tmp in base.glob(f"{TMP_PREFIX}*") if base.is_dir() else []:
            if time.time() - tmp.stat().st_mtime > older_than_s:
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


def _write_tables(work: Path, result: StageResult) -> str:
    manifest_bytes = _parquet_bytes(result.manifest)
    (work / MANIFEST).write_bytes(manifest_bytes)
    (work / QUARANTINE).write_bytes(_parquet_bytes(result.quarantine))
    return sha256_bytes(manifest_bytes)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def stage_key(*, spec: StageSpec, params: Any, inputs: Mapping[str, StageOutput]) -> str:
    """The key ``run_stage`` gives this stage's output (for work that must know it before publishing)."""
    digests = {name: out.digest for name, out in inputs.items()}
    return spec.key(params=params, input_digests=digests, code=code_version(spec.modules))


def run_stage(
    *,
    store: Store,
    spec: StageSpec,
    params: Any,
    inputs: Mapping[str, StageOutput],
    compute: Callable[[Path], StageResult],
) -> tuple[StageOutput, bool]:
    """Return the output of a stage, computing it only when no complete output with its key exists.

    Args:
        store: where outputs live.
        spec: the stage's name, version and code modules.
        params: the stage's config (a frozen dataclass or pydantic model); saved in ``stage.json``.
        inputs: upstream outputs by role name; their manifest digests enter the key.
        compute: called with an empty local work directory; writes payload files there and returns the
            tables. It runs at most once per call, and not at all on a cache hit.

    Returns:
        (the complete output, True when this call computed it).
    """
    digests = {name: out.digest for name, out in inputs.items()}
    code = code_version(spec.modules)
    key = spec.key(params=params, input_digests=digests, code=code)
    if store.is_complete(spec.name, key):
        return store.output(spec.name, key), False
    started = time.time()
    work = _work_dir(store, spec.name, key)
    try:
        result = compute(work)
        manifest_digest = _write_tables(work, result)
        meta = {
            "stage": spec.name, "key": key, "version": spec.version, "params": json.loads(canonical_json(params)),
            "inputs": {n: {"stage": o.stage, "key": o.key, "manifest_sha256": digests[n]} for n, o in inputs.items()},
            "code_version": code, "manifest_sha256": manifest_digest,
            "counts": {"rows": len(result.manifest), "quarantined": len(result.quarantine)},
            "timings": {"started": _iso(started), "finished": _iso(time.time()), "seconds": time.time() - started},
            "host": socket.gethostname(), "info": json.loads(canonical_json(result.info)),
        }  # fmt: skip
        (work / STAGE_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        _publish(store, spec.name, key, work)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return store.output(spec.name, key), True


def _work_dir(store: Store, stage: str, key: str) -> Path:
    """A fresh temporary directory; on a local store beside the final one so the rename is atomic."""
    name = f"{TMP_PREFIX}{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if not store.local:
        return Path(tempfile.mkdtemp(prefix=f"{name}-"))
    work = Path(store.root) / stage / name
    work.mkdir(parents=True)
    return work


def _publish(store: Store, stage: str, key: str, work: Path) -> None:
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


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
