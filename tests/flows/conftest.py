"""Fixtures of the flow tests that need a real Prefect server."""

from __future__ import annotations

import os

import pytest

from tests.flows.server import BIN, ROOT, Processes, free_port, wait_healthy


@pytest.fixture(scope="module")
def infra(tmp_path_factory):
    """A Prefect server on a free loopback port (SQLite in a temporary home), its environment, the processes."""
    base = tmp_path_factory.mktemp("prefect-e2e")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(base / "home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "ELTREPRO_HOME": str(ROOT),
    }
    procs = Processes(base)
    server = procs.start(
        "server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/api/health", server, base / "server.log")
        yield base, env, procs
    finally:
        procs.stop()
