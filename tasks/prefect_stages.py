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
import os
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
from landmark_core.train import EpochRecord, TrainConfig
from tasks.data import (
    DOWNLOAD,
    INDEX,
    SUBSETS,
    SYNTH,
    IndexParams,
    WflwSource,
    download_params,
    download_stage,
    index_stage,
    subsets_stage,
    synth_stage,
)
from tasks.landmarks import EVALUATE, TRAIN, EvaluateParams, TrainParams, evaluate_stage, train_stage
from tasks.progress import StageProgress
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


Inputs = Callable[[dict[str, Any]], dict[str, StageOutput]]


def named_inputs(*names: str) -> Inputs:
    """The stage inputs of a task whose parameters ``names`` are StageRefs."""
    return lambda parameters: {name: parameters[name].output() for name in names}


def _cache_key(spec: StageSpec, params_of: Callable[[dict[str, Any]], Any], inputs_of: Inputs):
    def key_fn(context: Any, parameters: dict[str, Any]) -> str | None:
        store = parameters["store"]
        params = params_of(parameters)
        if params is None:  # the key is not knowable before the task runs: no Prefect cache for this call
            return None
        key = stage_key(spec=spec, params=params, inputs=inputs_of(parameters))
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


@task(name="download_wflw", persist_result=True)
def download_task(store: str, source: WflwSource) -> StageRef:
    """Download (or verify) the real WFLW and publish it (thesis profile)."""
    check_injected_failure(DOWNLOAD.name)
    return StageRef.of(download_stage(store=Store(store), source=source)[0])


def _download_params(parameters: dict[str, Any]):
    """Known before downloading only when every archive's digest is given or pinned (else no cache key)."""
    digests = parameters["source"].known_digests()
    return None if digests is None else download_params(digests)


@task(name="synth_wflw", persist_result=True)
def synth_task(store: str, config: SynthConfig, workers: int = 1) -> StageRef:
    """Render the synthetic twin (demo profile)."""
    check_injected_failure(SYNTH.name)
    return StageRef.of(synth_stage(store=Store(store), config=config, workers=workers)[0])


@task(name="index_wflw", persist_result=True)
def index_task(store: str, dataset: StageRef) -> StageRef:
    """Index the dataset into faces + quarantine."""
    check_injected_failure(INDEX.name)
    return StageRef.of(index_stage(store=Store(store), dataset=dataset.output())[0])


@task(name="subsets", persist_result=True)
def subsets_task(store: str, index: StageRef, config: SubsetConfig) -> StageRef:
    """Head pose and the evaluation subsets."""
    check_injected_failure(SUBSETS.name)
    return StageRef.of(subsets_stage(store=Store(store), index=index.output(), config=config)[0])


@task(name="train_landmarks", persist_result=True)
def train_task(
    store: str,
    dataset: StageRef,
    index: StageRef,
    config: TrainConfig,
    device: str = "auto",
    row: str = "",
    augmented: StageRef | None = None,
) -> StageRef:
    """Train one experiment row (``row`` names it in the progress artifact; it is not part of the key).

    ``augmented``: the GAN branch's extra training faces (relit rows); None trains on WFLW alone.
    """
    check_injected_failure(TRAIN.name)
    progress = StageProgress(f"train {row}".strip())
    epochs = [0]

    def on_epoch(record: EpochRecord) -> None:
        epochs[0] = record.epoch + 1  # records count epochs from 0
        progress.update(epochs[0] / config.max_epochs)

    def on_batch(step: int, steps: int) -> None:
        progress.update((epochs[0] + step / steps) / config.max_epochs)

    out, _ = train_stage(store=Store(store), dataset=dataset.output(), index=index.output(), config=config,
                         device=device, on_epoch=on_epoch, on_batch=on_batch,
                         augmented=augmented.output() if augmented else None)  # fmt: skip
    progress.update(1.0)
    return StageRef.of(out)


@task(name="evaluate_landmarks", persist_result=True)
def evaluate_task(
    store: str, dataset: StageRef, index: StageRef, subsets: StageRef, trained: StageRef, device: str = "auto"
) -> StageRef:
    """Evaluate one trained row on the test split."""
    check_injected_failure(EVALUATE.name)
    out, _ = evaluate_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                            subsets=subsets.output(), trained=trained.output(), device=device)  # fmt: skip
    return StageRef.of(out)


@task(name="report", persist_result=True)
def report_task(
    store: str,
    evaluations: dict[str, StageRef],
    params: ReportParams,
    dataset: StageRef,
    index: StageRef,
    gan: dict[str, StageRef] | None = None,
) -> StageRef:
    """The study's tables and figures from every evaluated row (and the GAN branch's summary when it ran)."""
    check_injected_failure(REPORT.name)
    outputs = {row: ref.output() for row, ref in evaluations.items()}
    branch = {name: ref.output() for name, ref in gan.items()} if gan else None
    return StageRef.of(report_stage(store=Store(store), evaluations=outputs, params=params, dataset=dataset.output(),
                                    index=index.output(), gan=branch)[0])  # fmt: skip


def row_outputs_complete(
    *, store: str, config: TrainConfig, data: dict[str, StageRef], augmented: StageRef | None = None
) -> bool:
    """Whether a row's training and its evaluation are both complete in ``store`` (nothing left to run)."""
    target = Store(store)
    inputs = _train_inputs({**data, "augmented": augmented})
    train_key = stage_key(spec=TRAIN, params=TrainParams(config=config), inputs=inputs)
    if not target.is_complete(TRAIN.name, train_key):
        return False
    inputs = {"dataset": data["dataset"].output(), "index": data["index"].output(), "subsets": data["subsets"].output(),
              "trained": target.output(TRAIN.name, train_key)}  # fmt: skip
    return target.is_complete(EVALUATE.name, stage_key(spec=EVALUATE, params=EvaluateParams(), inputs=inputs))


def _train_inputs(parameters: dict[str, Any]) -> dict[str, StageOutput]:
    """The training stage's inputs: dataset and index, plus the augmented set when one is given."""
    inputs = named_inputs("dataset", "index")(parameters)
    if parameters.get("augmented") is not None:
        inputs["augmented"] = parameters["augmented"].output()
    return inputs


def _report_inputs(parameters: dict[str, Any]) -> dict[str, StageOutput]:
    evaluations = {f"eval:{row}": ref.output() for row, ref in parameters["evaluations"].items()}
    gan = {f"gan:{name}": ref.output() for name, ref in (parameters.get("gan") or {}).items()}
    return evaluations | named_inputs("dataset", "index")(parameters) | gan


def cached(store: str) -> dict[str, Any]:
    """Every stage task bound to ``store``'s cache policy (use inside a flow)."""
    policies = {
        "download": (download_task, DOWNLOAD, _download_params, named_inputs()),
        "synth": (synth_task, SYNTH, lambda p: p["config"], named_inputs()),
        "index": (index_task, INDEX, lambda p: IndexParams(), named_inputs("dataset")),
        "subsets": (subsets_task, SUBSETS, lambda p: p["config"], named_inputs("index")),
        "train": (train_task, TRAIN, lambda p: TrainParams(config=p["config"]), _train_inputs),
        "evaluate": (evaluate_task, EVALUATE, lambda p: EvaluateParams(),
                     named_inputs("dataset", "index", "subsets", "trained")),
        "report": (report_task, REPORT, lambda p: p["params"], _report_inputs),
    }  # fmt: skip
    return {
        name: fn.with_options(cache_policy=stage_policy(store=store, spec=spec, params_of=params_of, inputs_of=inputs))
        for name, (fn, spec, params_of, inputs) in policies.items()
    }
