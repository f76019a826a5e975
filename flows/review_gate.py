"""The review gate: decide pending faces by policy, or wait for a person (Prefect pause/suspend), then run the
``review`` stage.

With the ``human`` policy and faces still undecided, the flow run waits for input: ``suspend_flow_run`` when it
runs from a deployment (the worker is freed; on resume the flow re-runs, every upstream stage is a cache hit,
and the gate reads the input), ``pause_flow_run`` otherwise. The input model lists the pending face ids as an
enum, so the Prefect API itself refuses unknown ids; the gate checks the rest (every pending face decided,
values accept/reject, no face twice) and, on a problem, waits again with the problem in the description. The
review page writes the decisions to the store *before* it resumes the run, so a resumed gate usually finds
nothing pending; decisions given in the input are written the moment they arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from prefect import get_run_logger
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment as runtime_deployment
from pydantic import BaseModel, Field, create_model

from kit.prefect_stage import StageRef, StageRunner
from kit.store import Store
from tasks.decisions import (
    DecisionError,
    ReviewGateConfig,
    append_decisions,
    auto_decisions,
    check_decisions,
    decisions_digest,
    file_decisions,
    kept_faces,
    pending_faces,
)
from tasks.review import ReviewConfig, review

POLICIES = ("human", "auto", "file")


def review_input_model(pending: list[str]) -> type[RunInput]:
    """A RunInput whose face ids must be among ``pending`` (a JSON-schema enum the API enforces)."""
    face_id = Literal[tuple(pending)] if pending else str  # type: ignore[valid-type]
    decision = create_model(
        "Decision",
        face_id=(face_id, ...),
        decision=(Literal["accept", "reject"], ...),
        reason=(str, ""),
        __base__=BaseModel,
    )
    return create_model(
        "ReviewInput",
        __base__=RunInput,
        reviewer=(str, Field(..., min_length=1, description="who decided")),
        decisions=(list[decision], Field(default_factory=list, description="one per pending face")),
        decisions_file=(str | None, Field(None, description="or: a CSV with face_id, decision[, reason]")),
    )


def review_description(*, pending, config: ReviewGateConfig, problems: list[str]) -> str:
    """Markdown for the pause: what to review, where, and (after a refused input) what was wrong."""
    lpips = np.asarray(pending["lpips"], dtype=float)
    quartiles = ", ".join(f"{q:.3f}" for q in np.percentile(lpips, [0, 25, 50, 75, 100])) if len(lpips) else "-"
    text = (
        f"### Review {len(pending)} projected face(s)\n\n"
        f"Open the review page: [{config.page_url}]({config.page_url}) (`eltrepro review serve --store ...`), "
        f"or `eltrepro review apply --store ... --decisions FILE`.\n\n"
        f"Final LPIPS min / quartiles / max: {quartiles}.\n"
    )
    if problems:
        text += "\n**The last input was refused:**\n" + "".join(f"- {p}\n" for p in problems)
    return text


def _wait(model: type[RunInput], *, timeout: int, key: str) -> RunInput:
    if runtime_deployment.id:  # a deployment run: free the worker while a person reviews
        return suspend_flow_run(wait_for_input=model, timeout=timeout, key=key)
    return pause_flow_run(wait_for_input=model, timeout=timeout, key=key, poll_interval=2)


def _rows(answer: RunInput) -> list[dict]:
    if answer.decisions_file:
        return file_decisions(Path(answer.decisions_file), reviewer=answer.reviewer)
    return [{**d.model_dump(), "reviewer": answer.reviewer, "policy": "human"} for d in answer.decisions]


def decide_by_policy(store: Store, projected: StageRef, config: ReviewGateConfig) -> None:
    """Bring every kept face of ``projected`` to a decision: at once (auto, file) or by waiting for a person."""
    if config.policy not in POLICIES:
        raise ValueError(f"review policy must be human, auto or file, got {config.policy!r}")
    logger, output = get_run_logger(), projected.output()
    known = set(kept_faces(output)["detection_id"])
    pending = pending_faces(store, output)
    if len(pending) and config.policy == "auto":
        append_decisions(store, auto_decisions(pending, threshold=config.lpips_threshold))
    elif len(pending) and config.policy == "file":
        rows = [r for r in file_decisions(Path(config.decisions_file)) if r["face_id"] in known]
        problems = check_decisions(rows, pending=set(pending["detection_id"]), known=known)
        if problems:
            raise DecisionError(f"{config.decisions_file}: " + "; ".join(problems))
        append_decisions(store, [r for r in rows if r["face_id"] in set(pending["detection_id"])])
    problems: list[str] = []
    attempt = 0
    while config.policy == "human" and len(pending := pending_faces(store, output)):
        ids = list(pending["detection_id"])
        logger.info("review: %d face(s) wait for a decision; flow run paused (%s)", len(ids), config.page_url)
        description = review_description(pending=pending, config=config, problems=problems)
        model = review_input_model(ids).with_initial_data(description=description, reviewer="")
        answer = _wait(model, timeout=config.timeout_s, key=f"review-{output.key}-{attempt}")
        attempt += 1
        rows = _rows(answer)
        still = set(pending_faces(store, output)["detection_id"])  # the page writes its decisions before resuming
        problems = check_decisions(rows, pending=still, known=known)
        if problems:
            logger.error("review input refused: %s", "; ".join(problems))
            continue
        append_decisions(store, rows)


def review_gate(run: StageRunner, projected: StageRef, config: ReviewGateConfig) -> StageRef:
    """Decide every pending face (waiting for a person under the ``human`` policy), then record the outcome."""
    store = Store(run.store)
    decide_by_policy(store, projected, config)
    digest = decisions_digest(store, projected.output())
    stage_config = ReviewConfig(policy=config.policy, lpips_threshold=config.lpips_threshold, decisions=digest)
    return run(review, stage_config, projected=projected)
