"""Prefect tasks for the stages: the stage key is the Prefect cache key, and concurrent twins compute once.

Each task takes the store URL, its params and its upstream ``StageRef``s, runs one stage adapter and returns a
``StageRef``. Its cache key is ``<stage>-<stage key>-<store hash>``: the same key the output directory has
(input manifest digests + params + code version of the stage's modules), so a Prefect cache hit and an
existing directory agree. Tasks run with SERIALIZABLE isolation and a file lock manager, so two identical
runs started together compute once; a stage whose output directory exists returns it without work even when
Prefect's cache records are gone. A record whose output was deleted is dropped when its key is computed, so
Prefect never hands out a reference to a missing output. Records and locks live in ``<store>/.prefect/`` for
a local store and under the Prefect home for a remote one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy
from prefect.locking.filesystem import FileSystemLockManager
from prefect.settings import get_current_settings
from pydantic import BaseModel

from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from landmark_core.train import TrainConfig
from tasks.data import INDEX, SUBSETS, SYNTH, IndexParams, index_stage, subsets_stage, synth_stage
from tasks.landmarks import EVALUATE, TRAIN, EvaluateParams, TrainParams, evaluate_stage, train_stage
from tasks.report import REPORT, ReportParams, report_stage
from tasks.stage import StageOutput, StageSpec, Store, stage_key


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


def prefect_dir(store: str) -> Path:
    """Where cache records and locks of ``store`` live."""
    s = Store(store)
    if s.local:
        return Path(s.root) / ".prefect"
    return Path(get_current_settings().home) / "eltrepro" / hashlib.sha256(store.encode()).hexdigest()[:16]


Inputs = Callable[[dict[str, Any]], dict[str, StageOutput]]


def _named(*names: str) -> Inputs:
    """The stage inputs of a task whose parameters ``names`` are StageRefs."""
    return lambda parameters: {name: parameters[name].output() for name in names}


def _cache_key(spec: StageSpec, params_of: Callable[[dict[str, Any]], Any], inputs_of: Inputs):
    def key_fn(context: Any, parameters: dict[str, Any]) -> str:
        store = parameters["store"]
        key = stage_key(spec=spec, params=params_of(parameters), inputs=inputs_of(parameters))
        cache_key = f"{spec.name}-{key}-{hashlib.sha256(store.encode()).hexdigest()[:8]}"
        if not Store(store).is_complete(spec.name, key):
            (prefect_dir(store) / "cache" / cache_key).unlink(missing_ok=True)  # never serve a missing output
        return cache_key

    return key_fn


def stage_policy(*, store: str, spec: StageSpec, params_of: Callable, inputs_of: Inputs) -> CachePolicy:
    """The cache policy of one stage task in one store (SERIALIZABLE, file locks beside the records)."""
    base = prefect_dir(store)
    return CacheKeyFnPolicy(cache_key_fn=_cache_key(spec, params_of, inputs_of)).configure(
        key_storage=base / "cache", lock_manager=FileSystemLockManager(lock_files_directory=base / "locks"),
        isolation_level="SERIALIZABLE",
    )  # fmt: skip


@task(name="synth_wflw", persist_result=True)
def synth_task(store: str, config: SynthConfig, workers: int = 1) -> StageRef:
    """Render the synthetic twin (demo profile)."""
    return StageRef.of(synth_stage(store=Store(store), config=config, workers=workers)[0])


@task(name="index_wflw", persist_result=True)
def index_task(store: str, dataset: StageRef) -> StageRef:
    """Index the dataset into faces + quarantine."""
    return StageRef.of(index_stage(store=Store(store), dataset=dataset.output())[0])


@task(name="subsets", persist_result=True)
def subsets_task(store: str, index: StageRef, config: SubsetConfig) -> StageRef:
    """Head pose and the evaluation subsets."""
    return StageRef.of(subsets_stage(store=Store(store), index=index.output(), config=config)[0])


@task(name="train_landmarks", persist_result=True)
def train_task(store: str, dataset: StageRef, index: StageRef, config: TrainConfig, device: str = "auto") -> StageRef:
    """Train one experiment row."""
    out, _ = train_stage(store=Store(store), dataset=dataset.output(), index=index.output(), config=config,
                         device=device)  # fmt: skip
    return StageRef.of(out)


@task(name="evaluate_landmarks", persist_result=True)
def evaluate_task(
    store: str, dataset: StageRef, index: StageRef, subsets: StageRef, trained: StageRef, device: str = "auto"
) -> StageRef:
    """Evaluate one trained row on the test split."""
    out, _ = evaluate_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                            subsets=subsets.output(), trained=trained.output(), device=device)  # fmt: skip
    return StageRef.of(out)


@task(name="report", persist_result=True)
def report_task(store: str, evaluations: dict[str, StageRef], params: ReportParams) -> StageRef:
    """The study's tables from every evaluated row."""
    outputs = {row: ref.output() for row, ref in evaluations.items()}
    return StageRef.of(report_stage(store=Store(store), evaluations=outputs, params=params)[0])


def _evaluations(parameters: dict[str, Any]) -> dict[str, StageOutput]:
    return {f"eval:{row}": ref.output() for row, ref in parameters["evaluations"].items()}


def cached(store: str) -> dict[str, Any]:
    """Every stage task bound to ``store``'s cache policy (use inside a flow)."""
    policies = {
        "synth": (synth_task, SYNTH, lambda p: p["config"], _named()),
        "index": (index_task, INDEX, lambda p: IndexParams(), _named("dataset")),
        "subsets": (subsets_task, SUBSETS, lambda p: p["config"], _named("index")),
        "train": (train_task, TRAIN, lambda p: TrainParams(config=p["config"]), _named("dataset", "index")),
        "evaluate": (evaluate_task, EVALUATE, lambda p: EvaluateParams(),
                     _named("dataset", "index", "subsets", "trained")),
        "report": (report_task, REPORT, lambda p: p["params"], _evaluations),
    }  # fmt: skip
    return {
        name: fn.with_options(cache_policy=stage_policy(store=store, spec=spec, params_of=params_of, inputs_of=inputs))
        for name, (fn, spec, params_of, inputs) in policies.items()
    }
