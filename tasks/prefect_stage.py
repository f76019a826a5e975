"""The Prefect task of any stage, derived from its definition: the stage key is the Prefect cache key.

``stage_task(stage, store)`` is the one Prefect task of a ``tasks.stage.Stage`` in one store. It takes the
store URL, the stage's config, its inputs as ``StageRef``s and a ``Runtime``, runs the stage and returns a
``StageRef``. Its cache key is ``<stage>-<stage key>-<store hash>``: the same key the output directory has,
so a Prefect cache hit and an existing directory agree. Tasks run with SERIALIZABLE isolation and a file lock
manager, so two identical runs started together compute once; a stage whose output directory exists returns
it without work even when Prefect's cache records are gone. A record whose output was deleted is dropped when
its key is computed, so Prefect never hands out a reference to a missing output. Records and locks live in
``<store>/.prefect/`` for a local store and under the Prefect home for a remote one.

``StageRunner`` is what a flow calls: ``run(index_wflw, IndexConfig(), dataset=dataset)``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext
from prefect.locking.filesystem import FileSystemLockManager
from prefect.settings import get_current_settings
from pydantic import BaseModel

from tasks.progress import StageProgress
from tasks.stage import Runtime, Stage
from tasks.store import StageOutput, Store


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


def prefect_dir(store: str) -> Path:
    """Where cache records and locks of ``store`` live."""
    s = Store(store)
    if s.local:
        return Path(s.root) / ".prefect"
    return Path(get_current_settings().home) / "eltrepro" / hashlib.sha256(store.encode()).hexdigest()[:16]


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


def cache_key(stage: Stage, store: str, config: Any, inputs: dict[str, RefValue]) -> str:
    """The Prefect cache key of one stage call; drops a record whose output is gone."""
    key = stage.key(config=config, inputs=outputs_of(inputs))
    record = f"{stage.name}-{key}-{hashlib.sha256(store.encode()).hexdigest()[:8]}"
    if not Store(store).is_complete(stage.name, key):
        (prefect_dir(store) / "cache" / record).unlink(missing_ok=True)  # never serve a missing output
    return record


def stage_policy(stage: Stage, store: str) -> CachePolicy:
    """The cache policy of one stage's task in one store (SERIALIZABLE, file locks beside the records)."""
    base = prefect_dir(store)

    def key_fn(context: Any, parameters: dict[str, Any]) -> str:
        return cache_key(stage, parameters["store"], parameters["config"], parameters["inputs"])

    return CacheKeyFnPolicy(cache_key_fn=key_fn).configure(
        key_storage=base / "cache",
        lock_manager=FileSystemLockManager(lock_files_directory=base / "locks"),
        isolation_level="SERIALIZABLE",
    )


@cache
def _task_of(stage: Stage) -> Task:
    def run_stage(store: str, config: Any, inputs: dict[str, RefValue], runtime: Runtime) -> StageRef:
        check_injected_failure(stage.name)
        run = TaskRunContext.get()
        progress = StageProgress(run.task_run.name if run else stage.name)
        runtime = replace(runtime, progress=progress.update)
        output, _ = stage.run(store=Store(store), config=config, runtime=runtime, **outputs_of(inputs))
        progress.update(1.0)
        return StageRef.of(output)

    run_stage.__doc__ = stage.fn.__doc__
    run_stage.__qualname__ = run_stage.__name__ = stage.name
    return task(name=stage.name, persist_result=True)(run_stage)


def stage_task(stage: Stage, store: str) -> Task:
    """The Prefect task of ``stage`` bound to ``store``'s cache policy (call it inside a flow)."""
    return _task_of(stage).with_options(cache_policy=stage_policy(stage, store))


@dataclass(frozen=True)
class StageRunner:
    """Runs stages as cached Prefect tasks of one store: ``run(stage, config, **inputs) -> StageRef``."""

    store: str
    runtime: Runtime = field(default_factory=Runtime)

    def __call__(self, stage: Stage, config: Any, *, label: str = "", **inputs: RefValue) -> StageRef:
        """Run ``stage`` (a cache hit when its output exists); ``label`` names the task run (a row, a path)."""
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
