"""Resume the ``reproduce`` runs paused at the review gate of one store, through the Prefect API."""

from __future__ import annotations

import fsspec


def store_identity(url: str) -> tuple[str, str]:
    """(filesystem protocol, absolute root) of a store URL: two spellings of one store compare equal."""
    fs, root = fsspec.core.url_to_fs(str(url))
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol, root.rstrip("/")


async def resume_paused_runs(reviewer: str, store: str) -> list[str]:
    """Resume the paused flow runs whose review gate waits on ``store`` (their ``store`` parameter is it); each
    gate re-reads the decisions from the store. Runs gated on other stores stay paused."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    flow_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=flow_filter)
    resumed, ours = [], store_identity(store)
    for run in runs:
        gated_here = "store" in run.parameters and store_identity(run.parameters["store"]) == ours
        if gated_here and run.state and run.state.state_details.run_input_keyset:
            await resume_flow_run(run.id, run_input={"reviewer": reviewer, "decisions": []})
            resumed.append(str(run.id))
    return resumed
