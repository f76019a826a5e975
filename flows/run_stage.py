"""One GPU stage as its own flow: the unit the GPU pool runs when a run is started with ``--pool``.

``reproduce --pool`` sends every stage declared ``gpu=True`` (projection, the StyleFlow edit, the DPR
attributes, the segmenter's training; the rows go as ``train-experiment`` runs) as a flow run of the
``run-stage`` deployment on the GPU pool, under the same global concurrency limit as the rows. The stage's
config and inputs travel as plain data, the output returns through the store, and the parent checks that the
worker made the very key it expects (same code, same inputs).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prefect import flow, task
from prefect.concurrency.sync import concurrency

from flows.names import GPU_LIMIT
from kit.prefect_stage import StageRef, StageRunner, hold_for_drill, outputs_of
from kit.progress import StageProgress
from kit.shards import shard_stage
from kit.stage import Runtime
from kit.store import Store
from landmark_core.config import from_dict
from tasks.dataset_tree import default_workers
from tasks.registry import all_stages


def _refs(value: Any) -> Any:
    """A StageRef, a family of them, or None, from their plain form."""
    if value is None:
        return None
    if set(value) == {"store", "stage", "key"}:
        return StageRef(**value)
    return {name: StageRef(**ref) for name, ref in value.items()}


def _run_name() -> str:
    """``<stage>-<label>``, or the stage's name alone (the parent names the run the same way)."""
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    return f"{parameters['stage']}-{parameters['label']}" if parameters.get("label") else parameters["stage"]


@flow(name="run-stage", flow_run_name=_run_name)
def run_stage(
    stage: str,
    store: str,
    config: dict[str, Any],
    inputs: dict[str, Any],
    label: str = "",
    device: str = "auto",
    weights_dir: str = "",
    gpu_limit: str | None = GPU_LIMIT,
    shard: tuple[int, int] | None = None,
) -> StageRef:
    """Run one stage of the store (or one shard of a sharded stage), holding one slot of ``gpu_limit`` while it
    computes.

    Args:
        stage: the stage's name (``eltrepro stage list``).
        store: the artifact store shared with the parent flow.
        config: the stage's config as plain data (validated here against the stage's config type).
        inputs: its inputs as plain ``StageRef`` data by input name.
        label: names the flow run (a row, a path).
        device, weights_dir: this worker's runtime.
        gpu_limit: the global concurrency limit to hold a slot of; None runs unthrottled.
        shard: (first row, row after the last) of the sharded input: compute that shard only (``kit.shards``).

    Returns:
        The stage's output reference (the shard's, for a shard).
    """
    declared = all_stages()[stage]
    typed = from_dict(declared.config_type, config, where=f"run-stage {stage}")
    runner = StageRunner(
        store=store, runtime=Runtime(device=device, workers=default_workers(), weights_dir=weights_dir)
    )
    refs = {name: _refs(value) for name, value in inputs.items()}

    def compute_shard() -> StageRef:
        progress = StageProgress(f"{declared.name} {label}")  # the shard's progress artifact in the UI
        drill = hold_for_drill(shard_stage(declared.name), progress.update)
        runtime = replace(runner.runtime, progress=drill)
        outputs = outputs_of(refs)
        out, _ = declared.run_shard(store=Store(store), config=typed, runtime=runtime, rows=range(*shard), **outputs)
        progress.update(1.0)
        return StageRef.of(out)

    def compute() -> StageRef:
        if shard is None:
            return runner(declared, typed, label=label, **refs)
        return task(name=f"{shard_stage(declared.name)}-{label}", persist_result=False)(compute_shard)()

    if gpu_limit is None:
        return compute()
    with concurrency(gpu_limit, occupy=1):
        return compute()
