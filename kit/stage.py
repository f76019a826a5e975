"""A stage, declared once: its name, version, typed config, named typed inputs and the function it runs.

In the spirit of a Kedro node, a stage is one decorated function::

    @stage(version=1)
    def index_wflw(*, config: IndexConfig, ctx: StageContext, dataset: StageOutput) -> StageResult:
        ...

Everything else is derived from that definition and never written again:

* the stage's name (the function's name) and its config type (the ``config`` annotation);
* its inputs (the other keyword parameters: ``StageOutput`` is required, ``StageOutput | None`` optional,
  ``Mapping[str, StageOutput]`` a named family such as the report's evaluated rows);
* its code version (``kit.code_version``: the import closure of the module that defines it);
* its key (name, version, config, input manifest digests, code version) and so its output directory;
* its Prefect task and cache policy (``kit.prefect_stage``) and its command line (``eltrepro stage``).

The function is pure apart from the files it writes into ``ctx.work``: it gets its config, its inputs and a
``StageContext`` (where to write, the persistent scratch area of its key, the ``Runtime``), and returns a
``StageResult``. ``Stage.run`` returns the existing output when one with the key is complete.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import shutil
import socket
import time
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit import lease
from kit.code_version import code_version, import_closure
from kit.shards import ShardView, cut_shards, merge_shards, shard_address
from kit.store import (
    KEY_LENGTH,
    STAGE_JSON,
    StageOutput,
    StageResult,
    Store,
    canonical_json,
    publish,
    sha256_bytes,
    work_dir,
    write_tables,
)


@dataclass(frozen=True)
class Runtime:
    """How a stage runs, never what it computes: nothing here enters a key.

    Attributes:
        device: ``auto``, ``cpu`` or ``cuda[:n]`` for the stages that run a network.
        workers: processes for the CPU-bound stages that can spread (rendering, detection).
        weights_dir: folder of the published weights (``eltrepro weights fetch``); "" when none.
        shard_faces: faces per shard of a sharded stage (``kit.shards``); 0 computes it in one piece.
        progress: called with the fraction done by long stages (the Prefect task sets it).
    """

    device: str = "auto"
    workers: int = 1
    weights_dir: str = ""
    shard_faces: int = 0
    progress: Callable[[float], None] | None = field(default=None, compare=False, repr=False)

    def weights(self) -> Path | None:
        """``weights_dir`` as a path, None when unset."""
        return Path(self.weights_dir) if self.weights_dir else None


@dataclass(frozen=True)
class StageContext:
    """What a stage function gets besides its config and inputs."""

    store: Store
    stage: str
    key: str
    work: Path  # empty local folder; payload files go here
    runtime: Runtime

    @property
    def scratch(self) -> Path:
        """The persistent work area of this key (checkpoints), kept across crashes so a re-run resumes."""
        return self.store.scratch(self.stage, self.key)

    def report(self, fraction: float) -> None:
        """Report progress (0..1) to whoever listens."""
        if self.runtime.progress is not None:
            self.runtime.progress(fraction)


@dataclass(frozen=True)
class StageInput:
    """One named input of a stage, read from its function's signature."""

    name: str
    kind: str  # "one" (a StageOutput), "optional" (StageOutput | None) or "family" (Mapping[str, StageOutput])


InputValue = StageOutput | Mapping[str, StageOutput] | None


@dataclass(frozen=True)
class Stage:
    """A declared stage. Build one with ``@stage(version=...)`` on its function."""

    name: str
    version: int
    config_type: type
    inputs: tuple[StageInput, ...]
    fn: Callable[..., StageResult] = field(repr=False)
    gpu: bool = False  # runs a network worth a GPU: with ``--pool`` it runs on the GPU pool
    shard_by: str | None = None  # the input whose manifest rows are independent faces (``kit.shards``)
    sum_info: tuple[str, ...] = ()  # info keys that add up over shards (counts, seconds)

    @property
    def module(self) -> str:
        """The module that defines the stage (the root of its import closure)."""
        return self.fn.__module__

    def code_version(self) -> str:
        """Digest of the source of the stage's import closure (``kit.code_version``)."""
        return code_version(self.module)

    def modules(self) -> tuple[str, ...]:
        """The project modules the stage's code version covers."""
        return import_closure(self.module)

    def input_digests(self, inputs: Mapping[str, InputValue]) -> dict[str, str]:
        """Manifest digest per input (``name`` or ``name:member`` for a family); absent optionals left out."""
        self._check_inputs(inputs)
        digests = {}
        for spec in self.inputs:
            value = inputs.get(spec.name)
            if spec.kind == "family":
                digests |= {f"{spec.name}:{k}": out.digest for k, out in (value or {}).items()}
            elif value is not None:
                digests[spec.name] = value.digest
        return digests

    def key(self, *, config: Any, inputs: Mapping[str, InputValue], code: str | None = None) -> str:
        """The content key of this stage's output for ``config`` and ``inputs`` (what its directory is named)."""
        material = {
            "stage": self.name,
            "version": self.version,
            "config": json.loads(canonical_json(config, for_key=True)),
            "inputs": dict(sorted(self.input_digests(inputs).items())),
            "code": code or self.code_version(),
        }
        return sha256_bytes(canonical_json(material).encode())[:KEY_LENGTH]

    def run(
        self, *, store: Store, config: Any, runtime: Runtime | None = None, **inputs: InputValue
    ) -> tuple[StageOutput, bool]:
        """Return this stage's output for ``config`` and ``inputs``, computing it only when it is missing.

        Args:
            store: where outputs live.
            config: an instance of the stage's config type; saved in ``stage.json``.
            runtime: device, workers, weights folder, progress (none of it enters the key).
            **inputs: the stage's inputs by name (upstream outputs).

        Returns:
            (the complete output, True when this call computed it).
        """
        if not isinstance(config, self.config_type):
            raise TypeError(f"{self.name}: config must be {self.config_type.__name__}, got {type(config).__name__}")
        runtime = runtime or Runtime()
        code = self.code_version()
        key = self.key(config=config, inputs=inputs, code=code)

        def compute(work: Path) -> None:
            plan = self.shard_plan(config=config, runtime=runtime, inputs=inputs)
            if plan:
                self._merge(store, config, runtime, inputs, plan, key=key, code=code, work=work)
            else:
                self._compute(store, config, runtime, inputs, key=key, code=code, work=work)

        return self._once(store, self.name, key, compute)

    @staticmethod
    def _once(store: Store, name: str, key: str, compute: Callable[[Path], None]) -> tuple[StageOutput, bool]:
        """The output ``name``/``key``: returned when it is complete, else made by ``compute(work)`` under the key's
        lease (one writer per key; a dead writer's lease is taken over, its half-written copies removed) and
        published. Returns (the complete output, True when this call made it)."""
        if store.is_complete(name, key):
            shutil.rmtree(store.scratch(name, key), ignore_errors=True)
            return store.output(name, key), False
        with lease.hold(store, name, key):
            if store.is_complete(name, key):  # the run we waited for made it
                return store.output(name, key), False
            store.clean_temporaries(name, key=key)  # a killed writer's half-written copies
            work = work_dir(store, name, key)
            try:
                compute(work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(store.scratch(name, key), ignore_errors=True)  # published: checkpoints are in it
        return store.output(name, key), True

    def shard_plan(self, *, config: Any, runtime: Runtime, inputs: Mapping[str, InputValue]) -> list[range]:
        """The shards this stage is cut into for ``runtime.shard_faces`` (none: it is computed in one piece)."""
        source = inputs.get(self.shard_by) if self.shard_by else None
        if source is None or runtime.shard_faces < 1:
            return []
        rows = len(source.manifest())
        return cut_shards(rows=rows, shard_faces=runtime.shard_faces, batch_size=getattr(config, "batch_size", 1))

    def run_shard(
        self, *, store: Store, config: Any, runtime: Runtime, rows: range, **inputs: InputValue
    ) -> tuple[StageOutput, bool]:
        """One shard's output (the stage's function on ``rows`` of the sharded input), computed only when missing.

        Returns:
            (the complete shard output, True when this call computed it).
        """
        name, key = shard_address(stage=self.name, stage_key=self.key(config=config, inputs=inputs), rows=rows)
        source = inputs[self.shard_by]
        view = ShardView(store=source.store, stage=source.stage, key=source.key, rows=rows)
        shard_inputs = {**inputs, self.shard_by: view}

        def compute(work: Path) -> None:
            self._compute(store, config, runtime, shard_inputs, key=key, work=work, name=name)

        return self._once(store, name, key, compute)

    def _merge(self, store, config, runtime, inputs, plan: list[range], *, key: str, code: str, work: Path) -> None:
        """Compute the missing shards of ``plan`` one after another (progress counts shards), then merge them into
        ``work``."""
        started, parts = time.time(), []
        report = runtime.progress
        for i, rows in enumerate(plan):
            part_runtime = replace(runtime, progress=(lambda f, i=i: report((i + f) / len(plan))) if report else None)
            parts.append(self.run_shard(store=store, config=config, runtime=part_runtime, rows=rows, **inputs)[0])
            if report:
                report((i + 1) / len(plan))
        result = merge_shards(parts=parts, work=work, summed=self.sum_info)
        given = {spec.name: inputs.get(spec.name) for spec in self.inputs}
        self._publish(store, config, given, result, key=key, code=code, work=work, started=started, name=self.name)

    def _compute(self, store, config, runtime, inputs, *, key: str, work: Path, code: str = "", name: str = "") -> None:
        started, name = time.time(), name or self.name
        ctx = StageContext(store=store, stage=name, key=key, work=work, runtime=runtime)
        given = {spec.name: inputs.get(spec.name) for spec in self.inputs}
        result = self.fn(config=config, ctx=ctx, **given)
        code = code or self.code_version()
        self._publish(store, config, given, result, key=key, code=code, work=work, started=started, name=name)

    def _publish(self, store, config, given, result: StageResult, *, key, code, work: Path, started, name) -> None:
        """Write the tables and ``stage.json`` (last) into ``work`` and move it into place as ``name``/``key``."""
        manifest_digest = write_tables(work, result)
        meta = {
            "stage": name,
            "key": key,
            "version": self.version,
            "config": json.loads(canonical_json(config)),
            "inputs": _input_meta(given),
            "code_version": code,
            "modules": list(self.modules()),
            "manifest_sha256": manifest_digest,
            "counts": {"rows": len(result.manifest), "quarantined": len(result.quarantine)},
            "timings": {"started": _iso(started), "finished": _iso(time.time()), "seconds": time.time() - started},
            "host": socket.gethostname(),
            "info": json.loads(canonical_json(result.info)),
        }
        (work / STAGE_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        publish(store, name, key, work)

    def _check_inputs(self, inputs: Mapping[str, InputValue]) -> None:
        names = {spec.name for spec in self.inputs}
        unknown = sorted(set(inputs) - names)
        missing = sorted(s.name for s in self.inputs if s.kind == "one" and inputs.get(s.name) is None)
        if unknown or missing:
            raise TypeError(f"{self.name}: inputs are {sorted(names)}; unknown {unknown}, missing {missing}")


def _input_meta(given: Mapping[str, InputValue]) -> dict[str, Any]:
    def one(out: StageOutput) -> dict[str, str]:
        return {"stage": out.stage, "key": out.key, "manifest_sha256": out.digest}

    meta: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, StageOutput):
            meta[name] = one(value)
        elif value is not None:
            meta[name] = {member: one(out) for member, out in value.items()}
    return meta


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _input_kind(name: str, hint: Any) -> str:
    if hint is StageOutput:
        return "one"
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and set(args) == {StageOutput, type(None)}:
        return "optional"
    if typing.get_origin(hint) in (Mapping, dict) and args == (str, StageOutput):
        return "family"
    raise TypeError(f"stage input {name!r} must be StageOutput, StageOutput | None or Mapping[str, StageOutput]")


def stage(
    *, version: int, gpu: bool = False, shard_by: str | None = None, sum_info: tuple[str, ...] = ()
) -> Callable[[Callable[..., StageResult]], Stage]:
    """Declare the decorated function as a stage named after it.

    The function takes keyword-only ``config`` (annotated with its config type), ``ctx`` (StageContext) and
    its inputs, and returns a StageResult. ``gpu=True`` says the stage wants a GPU: a run with ``--pool`` sends
    it to the GPU pool (it does not enter the key: where a stage runs never changes what it makes).
    ``shard_by`` names the required input whose manifest rows the function handles independently, one face at
    a time: the kit may then compute the stage in shards of those rows (``kit.shards``); ``sum_info`` names the
    info keys that add up over shards.
    """

    def declare(fn: Callable[..., StageResult]) -> Stage:
        hints = typing.get_type_hints(fn)
        params = inspect.signature(fn).parameters
        bad = [p for p in params.values() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        if bad or "config" not in params or "ctx" not in params:
            raise TypeError(f"stage {fn.__name__}: keyword-only parameters config, ctx and the inputs expected")
        inputs = tuple(StageInput(name=n, kind=_input_kind(n, hints[n])) for n in params if n not in ("config", "ctx"))
        if shard_by is not None and StageInput(shard_by, "one") not in inputs:
            raise TypeError(f"stage {fn.__name__}: shard_by={shard_by!r} must name one of its required inputs")
        return Stage(
            name=fn.__name__,
            version=version,
            config_type=hints["config"],
            inputs=inputs,
            fn=fn,
            gpu=gpu,
            shard_by=shard_by,
            sum_info=tuple(sum_info),
        )

    return declare


def stages_in(package: str) -> dict[str, Stage]:
    """Every stage declared in ``package`` (a package name: every module of it is imported), by name."""
    root = importlib.import_module(package)
    found: dict[str, Stage] = {}
    for info in pkgutil.iter_modules(root.__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        found |= {v.name: v for v in vars(module).values() if isinstance(v, Stage) and v.module == module.__name__}
    return dict(sorted(found.items()))
