"""Fixtures of the flow tests: a real Prefect server per test, a store of trained tiny runs with a report."""

from __future__ import annotations

import pytest

from kit.store import Store
from tests.flows.server import Processes, reset_server


@pytest.fixture()
def infra(prefect_server, tmp_path):
    """The run's Prefect server, emptied for this test; (a folder for this test's logs and files, the environment
    of this server's clients and workers with a Prefect home of this test's own, the test's background
    processes, all killed when it ends)."""
    api_url, server_env = prefect_server
    reset_server(api_url)
    env = server_env | {"PREFECT_HOME": str(tmp_path / "home")}
    procs = Processes(tmp_path)
    try:
        yield tmp_path, env, procs
    finally:
        procs.stop()


@pytest.fixture(scope="session")
def trained_runs_store(tmp_path_factory, synth_root) -> Store:
    """Rows ``baseline`` (seeds 0 and 1) and ``elt`` trained tiny on the twin, evaluated, and a report of them."""
    from tests.flows.trained_store import trained_store

    return trained_store(tmp_path_factory.mktemp("trained") / "store", synth_root)
