"""A real ``prefect server`` for the server tests: free loopback port, temporary home, background processes.

One server serves the whole test run (``prefect_server`` in ``tests/conftest.py``); ``reset_server`` gives each
test that needs a clean one a server without deployments, work pools or concurrency limits in a fraction of a
second, instead of a new server in ten.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Background processes (own process groups, output in log files), all killed at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs, self.procs = logs, []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process group)
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((proc, log))
        return proc

    def stop(self) -> None:
        for proc, log in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            log.close()


def wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    """Wait until the server answers its health check (fail with its log when it exits or never answers)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {timeout_s} s:\n{log.read_text()[-3000:]}")


def prefect_cli(env: dict[str, str], *args: str) -> str:
    """Run ``prefect ARGS`` against the test server; its output (the test fails, with the output, on an error)."""
    result = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def start_server(base: Path, procs: Processes) -> tuple[str, dict[str, str]]:
    """Start ``prefect server start`` on a free loopback port, its database in ``base / "home"``; wait until it
    is healthy. Returns (API URL, the environment clients and workers of this server run with)."""
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
    # Server loops no test uses (schedules, late runs, automations, the event log, vacuums, reconciling): each
    # wakes every few seconds, and over a whole test run they cost CPU the tests need.
    for service in ("SCHEDULER", "LATE_RUNS", "TRIGGERS", "EVENT_LOGGER", "DB_VACUUM", "CLEANUP_RECONCILER"):
        env[f"PREFECT_SERVER_SERVICES_{service}_ENABLED"] = "false"
    server = procs.start(
        "server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env
    )
    wait_healthy(f"http://127.0.0.1:{port}/api/health", server, base / "server.log")
    return env["PREFECT_API_URL"], env


@contextlib.contextmanager
def server_client(api_url: str):
    """A synchronous Prefect client of the server at ``api_url``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        yield client


def reset_server(api_url: str) -> None:
    """Empty the server of what earlier tests set up: deployments, work pools, global concurrency limits (their
    flow runs stay, as on a real server: a test reads its own by id or by its store, ``runs_of_store``)."""
    with server_client(api_url) as client:
        for deployment in client.read_deployments():
            client.delete_deployment(deployment.id)
        for pool in client.read_work_pools():
            client.delete_work_pool(pool.name)
        while limits := client.read_global_concurrency_limits(limit=100):
            for limit in limits:
                client.delete_global_concurrency_limit_by_name(limit.name)


def every_flow_run(client, **filters) -> list:
    """Every flow run that ``filters`` (``read_flow_runs`` keywords) select, newest first, page by page (the
    server answers at most 200 at a time)."""
    from prefect.client.schemas.sorting import FlowRunSort

    runs: list = []
    while page := client.read_flow_runs(
        **filters, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200, offset=len(runs)
    ):
        runs += page
    return runs


def runs_of_store(client, store: str) -> list:
    """The flow runs (newest first) whose ``store`` parameter is ``store``: one test's runs on the shared server."""
    return [r for r in every_flow_run(client) if (r.parameters or {}).get("store") == store]


def deploy(env: dict[str, str], *names: str) -> None:
    """``prefect --no-prompt deploy`` of the named deployments of prefect.yaml (all of them when none is named),
    in one call: the deployments exactly as prefect.yaml declares them."""
    prefect_cli(env, "--no-prompt", "deploy", *([f"--name={n}" for n in names] or ["--all"]))


def create_process_pools(env: dict[str, str], *names: str) -> None:
    """Process work pools, as ``prefect work-pool create NAME --type process`` makes them (through the API: the
    same request without starting the CLI once per pool)."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with server_client(env["PREFECT_API_URL"]) as client:
        for name in names:
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))


def create_limit(env: dict[str, str], name: str, limit: int) -> None:
    """A global concurrency limit, as ``prefect gcl create NAME --limit N`` makes it (through the API)."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with server_client(env["PREFECT_API_URL"]) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
