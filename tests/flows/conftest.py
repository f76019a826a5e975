"""Fixtures of the flow tests that need a real Prefect server."""

from __future__ import annotations

import pytest

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
