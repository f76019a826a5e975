"""A lease blocks while its holder lives and is taken over as soon as the holder is gone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

from kit import lease
from kit.store import Store


def _write_holder(path, *, host: str, pid: int, expires: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host, "pid": pid, "token": "other", "expires": expires}))


def _lease_path(store: Store):
    return lease.lock_dir(store) / "toy-k1.lease"


def _hold_in_thread(store: Store, **kwargs) -> tuple[threading.Thread, list]:
    got: list = []

    def target() -> None:
        with lease.hold(store, "toy", "k1", poll_s=0.02, **kwargs) as held:
            got.append(held)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, got


def test_a_dead_process_lease_is_taken_over_at_once(tmp_path):
    store = Store(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _write_holder(_lease_path(store), host=socket.gethostname(), pid=int(dead.stdout), expires=time.time() + 3600)
    started = time.monotonic()
    with lease.hold(store, "toy", "k1") as held:
        assert held.taken_over is not None and held.taken_over.pid == int(dead.stdout)
        assert json.loads(_lease_path(store).read_text())["token"] == held.token
    assert time.monotonic() - started < 5
    assert not _lease_path(store).exists()


def test_a_live_holder_blocks_until_it_releases(tmp_path):
    store = Store(tmp_path)
    with lease.hold(store, "toy", "k1"):
        thread, got = _hold_in_thread(store)
        thread.join(0.5)
        assert thread.is_alive() and got == []  # waits while the holder lives
    thread.join(5)
    assert len(got) == 1 and got[0].taken_over is None


def test_another_hosts_lease_blocks_until_it_expires(tmp_path):
    store = Store(tmp_path)
    _write_holder(_lease_path(store), host="elsewhere", pid=1, expires=time.time() + 1.0)
    thread, got = _hold_in_thread(store)
    thread.join(0.3)
    assert thread.is_alive()  # another host's process cannot be checked: its expiry decides
    thread.join(5)
    assert len(got) == 1 and got[0].taken_over.host == "elsewhere"


def test_an_empty_lease_file_counts_as_expired(tmp_path):
    store = Store(tmp_path)
    _lease_path(store).parent.mkdir(parents=True)
    _lease_path(store).write_text("")  # a holder killed between create and write
    with lease.hold(store, "toy", "k1") as held:
        assert held.taken_over is not None


def test_a_long_holder_renews_its_lease(tmp_path):
    store = Store(tmp_path)
    with lease.hold(store, "toy", "k1", ttl_s=0.4):
        first = json.loads(_lease_path(store).read_text())["expires"]
        time.sleep(0.8)  # twice the lifetime: still held, because it was renewed
        assert json.loads(_lease_path(store).read_text())["expires"] > first + 0.3
        thread, got = _hold_in_thread(store, ttl_s=0.4)
        thread.join(0.5)
        assert thread.is_alive() and got == []
    thread.join(5)
    assert len(got) == 1


def test_a_remote_store_keeps_its_leases_in_the_temp_dir(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = lease.lock_dir(Store("memory://lease-test"))
    assert folder.parent == tmp_path / "eltrepro-locks"
    assert folder == lease.lock_dir(Store("memory://lease-test"))  # one folder per store URL
    assert folder != lease.lock_dir(Store("memory://another"))


def test_a_lease_being_written_is_never_read_as_a_dead_holders(tmp_path, monkeypatch):
    """A slow writer must not show a waiting run an empty lease file: that reads as a dead holder's, and both
    would compute (and one would remove the other's half-written output)."""
    path = tmp_path / "toy-k1.lease"
    slow, fast = lease.Lease(path, 60.0), lease.Lease(path, 60.0)
    content = lease.Lease._content

    def slowly(self) -> str:
        if self is slow:
            time.sleep(0.3)  # the writer is descheduled while it makes its lease
        return content(self)

    monkeypatch.setattr(lease.Lease, "_content", slowly)
    taken: dict[str, bool] = {}
    writer = threading.Thread(target=lambda: taken.setdefault("slow", slow.try_take()))
    writer.start()
    time.sleep(0.1)
    taken["fast"] = fast.try_take()
    writer.join()
    assert sorted(taken.values()) == [False, True], taken  # exactly one holder
    for held in (slow, fast):
        held.release()
    assert not path.exists() and not list(tmp_path.iterdir())  # no staged or stale files left
