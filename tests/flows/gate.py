"""The review gate as a flow of its own, and readers of its runs (for the gate and review-page tests)."""

from __future__ import annotations

import contextvars
import threading

from prefect import flow
from prefect.client.orchestration import get_client

from flows.review_gate import review_gate
from kit.prefect_stage import StageRef, StageRunner
from tasks.decisions import ReviewGateConfig
from tests.flows.server import every_flow_run

FLOW_NAME = "review-gate-test"


@flow(name=FLOW_NAME)
def gate_flow(store: str, projected: StageRef, config: ReviewGateConfig) -> StageRef:
    """Run the gate (and the review stage) on one projection output."""
    return review_gate(StageRunner(store=store), projected, config)


def gate_runs(store: str | None = None):
    """The flow runs of ``gate_flow`` on the current server (those of ``store`` when given): the server is the
    whole test run's, so a test reads its own."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        runs = every_flow_run(client, flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
    return [r for r in runs if store is None or (r.parameters or {}).get("store") == store]


def paused_gate_run(store: str):
    """The gate run of ``store`` that waits for input, or None."""
    return next((r for r in gate_runs(store) if r.state.is_paused()), None)


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
