"""The review gate as a flow of its own, and readers of its runs (for the gate and review-page tests)."""

from __future__ import annotations

import contextvars
import threading

from prefect import flow
from prefect.client.orchestration import get_client

from flows.review_gate import review_gate
from tasks.decisions import ReviewGateConfig
from tasks.prefect_stage import StageRef, StageRunner

FLOW_NAME = "review-gate-test"


@flow(name=FLOW_NAME)
def gate_flow(store: str, projected: StageRef, config: ReviewGateConfig) -> StageRef:
    """Run the gate (and the review stage) on one projection output."""
    return review_gate(StageRunner(store=store), projected, config)


def gate_runs():
    """Every flow run of ``gate_flow`` on the current server."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        return [r for r in runs if r.flow_id and client.read_flow(r.flow_id).name == FLOW_NAME]


def paused_gate_run():
    """The gate run that waits for input, or None."""
    return next((r for r in gate_runs() if r.state.is_paused()), None)


def state_of(run_id):
    """The current state of a flow run."""
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def gate_in_thread(store: str, projected: StageRef, config: ReviewGateConfig, result: list) -> threading.Thread:
    """Start ``gate_flow`` in a thread that sees this thread's Prefect settings; its result lands in ``result``."""
    context = contextvars.copy_context()  # the test's temporary Prefect settings live in context variables
    thread = threading.Thread(target=context.run, args=(lambda: result.append(gate_flow(store, projected, config)),))
    thread.start()
    return thread
