"""The ``review`` flow: review one projection output on its own (a deployment, so a paused review frees its
worker: the run is suspended and re-runs when the page's submit, ``eltrepro review apply`` or the UI resumes it).

The ``reproduce`` flow runs the same gate after ``project``; this flow is for reviewing (or re-reviewing with
another policy) a projection that already exists, e.g. from a worker pool where the DAG should not wait.
"""

from __future__ import annotations

from prefect import flow

from flows.review_gate import review_gate
from kit.prefect_stage import StageRef, StageRunner
from kit.store import STAGE_JSON, Store
from tasks.decisions import ReviewGateConfig


def latest_projection(store: str) -> str:
    """The key of the most recently completed ``project`` output in ``store``."""
    target = Store(store)
    keys = [p.rstrip("/").split("/")[-2] for p in target.fs.glob(f"{target.root.rstrip('/')}/project/*/{STAGE_JSON}")]
    outputs = [(key, target.output("project", key).metadata()["timings"]["finished"]) for key in keys]
    if not outputs:
        raise FileNotFoundError(f"{store}: no complete project output to review")
    return max(outputs, key=lambda item: item[1])[0]


@flow(name="review")
def review(
    store: str = "artifacts",
    projected: str = "",
    policy: str = "human",
    lpips_threshold: float = 0.3,
    decisions_file: str = "",
    page_url: str = ReviewGateConfig.page_url,
    timeout_s: int = ReviewGateConfig.timeout_s,
) -> StageRef:
    """Decide every face of a projection output (the latest when ``projected`` is empty) and record the outcome.

    Args:
        store: the artifact store.
        projected: key of the ``project`` output.
        policy: human (wait for a person), auto (accept when LPIPS <= ``lpips_threshold``) or file
            (``decisions_file``); see ``tasks.decisions.ReviewGateConfig``.
    """
    ref = StageRef(store=store, stage="project", key=projected or latest_projection(store))
    config = ReviewGateConfig(
        policy=policy,
        lpips_threshold=lpips_threshold,
        decisions_file=decisions_file,
        page_url=page_url,
        timeout_s=timeout_s,
    )
    return review_gate(StageRunner(store=store), ref, config)
