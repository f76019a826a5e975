"""Shared fixtures: a small synthetic WFLW twin (a folder, or published into a store by the data stages)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.store import StageOutput, Store
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw

SMALL = SynthConfig(train=16, test=24, seed=7)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist every worker process computes with one thread (and so does every process it starts):
    the workers share the machine's cores, and two workers each spinning a pool of threads per core slow each
    other down more than they gain."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ[name] = "1"
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with a ``server`` test first, then those with a ``slow`` one, then the rest (each module's own
    order kept): pytest-xdist hands whole modules to idle workers in this order, so the long ones start at once
    and the short ones fill the gaps, instead of a long module starting last and running on alone."""
    weight: dict[str, int] = {}
    for item in items:
        rank = 0 if item.get_closest_marker("server") else 1 if item.get_closest_marker("slow") else 2
        weight[item.nodeid.split("::")[0]] = min(rank, weight.get(item.nodeid.split("::")[0], 2))
    items.sort(key=lambda item: weight[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic WFLW root (16 train / 24 test images); treat as read-only."""
    root = tmp_path_factory.mktemp("wflw-synth")
    synthesize_wflw(out=root, config=SMALL, workers=2)
    return root


@dataclass(frozen=True)
class Twin:
    """The data stages of a synthetic twin published into one store."""

    store: Store
    dataset: StageOutput
    index: StageOutput
    subsets: StageOutput


@pytest.fixture(scope="session")
def publish_twin() -> Callable[..., Twin]:
    """A function that runs the data stages (synth_wflw -> index_wflw -> subsets) into a store.

    Call it as ``publish_twin(store, SynthConfig(train=8, test=6, seed=3))``; every call on the same store and
    config after the first is a cache hit.
    """
    from landmark_core.subsets import SubsetConfig
    from tasks.index_wflw import IndexConfig, index_wflw
    from tasks.subsets import subsets
    from tasks.synth_wflw import synth_wflw

    def publish(store: Store, config: SynthConfig) -> Twin:
        dataset, _ = synth_wflw.run(store=store, config=config)
        index, _ = index_wflw.run(store=store, config=IndexConfig(), dataset=dataset)
        subset, _ = subsets.run(store=store, config=SubsetConfig(), index=index)
        return Twin(store=store, dataset=dataset, index=index, subsets=subset)

    return publish


def _wait_until(predicate: Callable[[], object], *, timeout: float = 60.0, interval: float = 0.5, what: str = ""):
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError naming ``what`` on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., object]:
    """``wait_until(predicate, timeout=60, what="the run to pause")``: poll until truthy, or fail naming it."""
    return _wait_until


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """One real ``prefect server`` for the whole test run (a free loopback port, its database in a temporary
    home); yields (API URL, the environment its clients and workers run with). Tests that need a clean server
    take ``infra`` (below), which empties it first."""
    from tests.flows.server import Processes, start_server

    base = tmp_path_factory.mktemp("prefect-server")
    procs = Processes(base)
    try:
        yield start_server(base, procs)
    finally:  # this process's last logs and events go while the server is up (else they retry for a minute)
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)
        procs.stop()


@pytest.fixture(scope="module")
def prefect_harness(prefect_server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's flows report to the run's Prefect server, with a Prefect home (results, remote-store cache
    records) of this module's own in a temporary folder; yields that home."""
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    updates = {
        PREFECT_API_URL: prefect_server[0],
        PREFECT_HOME: str(home),
        PREFECT_LOCAL_STORAGE_PATH: str(home / "storage"),
    }
    with temporary_settings(updates=updates), _temporary_global_settings_context(get_settings_context()):
        yield home  # global too, as Prefect's own test harness does: threads that do not copy the context see it


class CreatesFile:
    """A pickled object that creates ``path`` when unpickled: the payload of the hostile-file tests (calling
    ``open(path, "w")`` is harmless, and its effect is easy to see)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture()
def hostile_torch_file(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """Make a torch file whose pickle would create a marker file when loaded; returns (file, marker)."""

    def make(name: str = "evil.pt", content: dict | None = None) -> tuple[Path, Path]:
        import torch

        marker = tmp_path / f"{name}.code-ran"
        path = tmp_path / name
        torch.save({**(content or {}), "payload": CreatesFile(marker)}, path)
        return path, marker

    return make


@pytest.fixture()
def infra(prefect_server, tmp_path):
    """The run's Prefect server, emptied for this test; (a folder for this test's logs and files, the environment
    of this server's clients and workers with a Prefect home of this test's own, the test's background
    processes, all killed when it ends)."""
    from tests.flows.server import Processes, reset_server

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
