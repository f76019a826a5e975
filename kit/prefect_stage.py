"""The Prefect task of any stage, derived from its definition: the stage key is the Prefect cache key.

``stage_task(stage, store)`` is the one Prefect task of a ``kit.stage.Stage`` in one store. It takes the
store URL, the stage's config, its inputs as ``StageRef``s and a ``Runtime``, runs the stage and returns a
``StageRef``. Its cache key is ``<stage>-<stage key>-<store hash>``: the same key the output directory has,
so a Prefect cache hit and an existing directory agree.

* Records: a record is the whole cached result (plain JSON, never a pickle) in ``<store>/.prefect/records``
  for a local store, so another worker, machine or container reading the same store gets the same cache
  hits. A remote store keeps records in each Prefect home; there the store's ``stage.json`` alone decides
  reuse, so another machine's run reuses every output (it only misses the record, and runs the stage
  function, which returns the existing output at once).
* A record is read only when its output is complete and it holds exactly the JSON reference to it; anything
  else (a deleted output, a record that names another serializer) is dropped before Prefect sees it.
* No Prefect lock: ``Stage.run`` holds the key's lease (``kit.lease``), so two identical runs compute once,
  and a run that dies (``kill -9``) never blocks the next.

``StageRunner`` is what a flow calls: ``run(index_wflw, IndexConfig(), dataset=dataset)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext
from prefect.serializers import JSONSerializer
from prefect.settings import get_current_settings
from pydantic import BaseModel

from kit.progress import StageProgress
from kit.stage import Runtime, Stage
from kit.store import StageOutput, Store


class StageRef(BaseModel):
    """A complete stage output, as Prefect passes and persists it."""

    store: str
    stage: str
    key: str

    @classmethod
    def of(cls, output: StageOutput) -> StageRef:
        """The reference of a stage output."""
        return cls(store=output.store.url, stage=output.stage, key=output.key)

    def output(self) -> StageOutput:
        """The output itself (raises FileNotFoundError when it is missing)."""
        return Store(self.store).output(self.stage, self.key)


RefValue = StageRef | dict[str, StageRef] | None


def outputs_of(refs: dict[str, RefValue]) -> dict[str, Any]:
    """Stage inputs from references: each StageRef (or family of them) as its StageOutput."""
    out: dict[str, Any] = {}
    for name, value in refs.items():
        if isinstance(value, StageRef):
            out[name] = value.output()
        elif value is not None:
            out[name] = {member: ref.output() for member, ref in value.items()}
    return out


def records_dir(store: str) -> Path:
    """Where the Prefect cache records of ``store`` live: inside a local store (``<store>/.prefect/records``),
    so every machine and Prefect home that reads the store reads the same records. A remote store keeps them
    in the Prefect home: there a record only saves the look-up, the store's own ``stage.json`` decides reuse."""
    s = Store(store)
    if s.local:
        return Path(s.root).resolve() / ".prefect" / "records"
    home = Path(get_current_settings().home)
    return home / "eltrepro-records" / hashlib.sha256(store.encode()).hexdigest()[:16]


FAIL_STAGE_ENV = "ELTREPRO_FAIL_STAGE"
FAIL_SWITCH_ENV = "ELTREPRO_FAIL_SWITCH"


class InjectedFailureError(RuntimeError):
    """The failure a test asked for with ``ELTREPRO_FAIL_STAGE``."""


def check_injected_failure(stage: str) -> None:
    """Fail ``stage`` on purpose when ``ELTREPRO_FAIL_STAGE`` names it (a switch for retry tests and drills).

    With ``ELTREPRO_FAIL_SWITCH`` set to a path, the stage fails only while that file exists, so a worker keeps
    its environment and the retry after removing the file succeeds.
    """
    if os.environ.get(FAIL_STAGE_ENV) != stage:
        return
    switch = os.environ.get(FAIL_SWITCH_ENV)
    if switch is None or Path(switch).exists():
        where = f" (switch {switch})" if switch else ""
        raise InjectedFailureError(f"{stage}: failure injected by {FAIL_STAGE_ENV}{where}")


HOLD_STAGE_ENV = "ELTREPRO_HOLD_STAGE"
HOLD_FILE_ENV = "ELTREPRO_HOLD_FILE"
HOLD_AT_ENV = "ELTREPRO_HOLD_AT"


def hold_for_drill(stage: str, progress: Callable[[float], None]) -> Callable[[float], None]:
    """``progress``, made to stop ``stage`` part-way when ``ELTREPRO_HOLD_STAGE`` names it (a drill switch).

    At the first progress report above ``ELTREPRO_HOLD_AT`` (default 0) and below 1, the stage writes its
    process id to the file named by ``ELTREPRO_HOLD_FILE`` and waits while that file exists: a test then kills
    the process in the middle of the stage's real work (its lease held, its work folder and checkpoints half-written).
    """
    marker = os.environ.get(HOLD_FILE_ENV)
    if os.environ.get(HOLD_STAGE_ENV) != stage or not marker:
        return progress
    at = float(os.environ.get(HOLD_AT_ENV, "0"))

    def held(fraction: float) -> None:
        progress(fraction)
        if at < fraction < 1.0 and not Path(f"{marker}.done").exists():
            Path(f"{marker}.done").touch()
            Path(marker).write_text(str(os.getpid()))
            while Path(marker).exists():
                time.sleep(0.05)

    return held


def cache_key(stage: Stage, store: str, config: Any, inputs: dict[str, RefValue]) -> str:
    """The Prefect cache key of one stage call.

    A record is dropped (so the stage runs, and finds or makes its output) unless its output is complete and
    the record is exactly the plain JSON reference to it: a record that points at a missing output, or that
    asks Prefect to unpickle something, is never read.
    """
    key = stage.key(config=config, inputs=outputs_of(inputs))
    record = f"{stage.name}-{key}-{hashlib.sha256(store.encode()).hexdigest()[:8]}"
    expected = StageRef(store=store, stage=stage.name, key=key)
    if not Store(store).is_complete(stage.name, key) or not _record_is(store, record, expected):
        _drop_record(store, record)
    return record


JSON_SERIALIZER = JSONSerializer().model_dump(mode="json")  # the only serializer a record may name


def _record_is(store: str, record: str, expected: StageRef) -> bool:
    """True when the record is absent or holds exactly ``expected`` serialised as JSON."""
    path = records_dir(store) / record
    if not path.exists():
        return True
    try:
        data = json.loads(path.read_bytes())
        metadata, result = data["metadata"], json.loads(data["result"])
    except (ValueError, KeyError, TypeError):
        return False
    wanted = {"__class__": f"{StageRef.__module__}.{StageRef.__qualname__}", "data": expected.model_dump()}
    plain = metadata.get("serializer") == JSON_SERIALIZER and metadata.get("storage_block_id") is None
    return plain and result == wanted


def _drop_record(store: str, record: str) -> None:
    (records_dir(store) / record).unlink(missing_ok=True)


def stage_policy(stage: Stage, store: str) -> CachePolicy:
    """The cache policy of one stage's task in one store. There is no Prefect lock: ``Stage.run`` holds the
    key's lease (``kit.lease``), which a dead run cannot keep."""

    def key_fn(context: Any, parameters: dict[str, Any]) -> str:
        return cache_key(stage, parameters["store"], parameters["config"], parameters["inputs"])

    return CacheKeyFnPolicy(cache_key_fn=key_fn)


@cache
def _task_of(stage: Stage) -> Task:
    def run_stage(store: str, config: Any, inputs: dict[str, RefValue], runtime: Runtime) -> StageRef:
        check_injected_failure(stage.name)
        run = TaskRunContext.get()
        progress = StageProgress(run.task_run.name if run else stage.name)
        runtime = replace(runtime, progress=hold_for_drill(stage.name, progress.update))
        output, computed = stage.run(store=Store(store), config=config, runtime=runtime, **outputs_of(inputs))
        progress.update(1.0)
        warning = output.metadata()["info"].get("warning") if computed else None
        if warning:  # a stage's caveat goes to the run's log, not to Python's warnings on stderr
            get_run_logger().warning("%s: %s", stage.name, warning)
        return StageRef.of(output)

    run_stage.__doc__ = stage.fn.__doc__
    run_stage.__qualname__ = run_stage.__name__ = stage.name
    return task(name=stage.name, persist_result=True)(run_stage)


def stage_task(stage: Stage, store: str) -> Task:
    """The Prefect task of ``stage`` bound to ``store``: its cache policy, and its records (plain JSON) kept in
    the store (call it inside a flow)."""
    return _task_of(stage).with_options(
        cache_policy=stage_policy(stage, store), result_storage=records_dir(store), result_serializer="json"
    )


Remote = Callable[..., StageRef]
"""Runs a GPU stage elsewhere: ``remote(runner, stage, config, label=..., **inputs) -> StageRef`` (the flows'
GPU pool, ``flows.pool.run_on_pool``); the output comes back through the store."""


@dataclass(frozen=True)
class StageRunner:
    """Runs stages as cached Prefect tasks of one store: ``run(stage, config, **inputs) -> StageRef``.

    With ``remote`` set, every stage declared ``gpu=True`` goes to it instead (the GPU pool).
    """

    store: str
    runtime: Runtime = field(default_factory=Runtime)
    remote: Remote | None = field(default=None, compare=False, repr=False)

    def __call__(self, stage: Stage, config: Any, *, label: str = "", **inputs: RefValue) -> StageRef:
        """Run ``stage`` (a cache hit when its output exists); ``label`` names the task run (a row, a path)."""
        if self.remote is not None and stage.gpu:
            return self.remote(self, stage, config, label=label, **inputs)
        bound = stage_task(stage, self.store)
        if label:
            bound = bound.with_options(task_run_name=f"{stage.name}-{label}")
        return bound(store=self.store, config=config, inputs=inputs, runtime=self.runtime)

    def key(self, stage: Stage, config: Any, **inputs: RefValue) -> str:
        """The key ``stage`` would have (to check for a complete output without running it)."""
        return stage.key(config=config, inputs=outputs_of(inputs))

    def is_complete(self, stage: Stage, config: Any, **inputs: RefValue) -> bool:
        """Whether ``stage``'s output for these inputs is already in the store."""
        return Store(self.store).is_complete(stage.name, self.key(stage, config, **inputs))
