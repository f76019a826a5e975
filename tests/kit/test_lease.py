"""A lease admits one holder at a time, is kept by a live holder and is taken over once the holder is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kit import lease
from kit.store import Store

REPO = Path(__file__).resolve().parents[2]


def _lease_path(store: Store) -> Path:
    return lease.lock_dir(store) / "toy-k1.lease"


def _hold_in_thread(store: Store, **kwargs) -> tuple[threading.Thread, list]:
    """A thread that takes the lease (own ``SoftFileLease``), notes (the ``Held``, when) and releases it."""
    got: list = []
    kwargs = {"poll_s": 0.02, **kwargs}

    def target() -> None:
        with lease.hold(store, "toy", "k1", **kwargs) as held:
            got.append((held, time.monotonic()))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, got


def test_two_holders_never_overlap(tmp_path):
    store, inside, seen, errors = Store(tmp_path), [0], [], []

    def worker() -> None:
        try:
            for _ in range(5):
                with lease.hold(store, "toy", "k1", poll_s=0.01):
                    inside[0] += 1
                    seen.append(inside[0])
                    time.sleep(0.02)
                    inside[0] -= 1
        except Exception as error:  # the assertion below shows it
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(seen) == 20
    assert max(seen) == 1  # never two holders inside at once


def test_a_sigkilled_holder_on_this_host_is_taken_over_quickly(tmp_path):
    store = Store(tmp_path)
    code = (
        "import sys, time\nfrom kit import lease\nfrom kit.store import Store\n"
        "with lease.hold(Store(sys.argv[1]), 'toy', 'k1'):\n    print('held', flush=True)\n    time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        thread, got = _hold_in_thread(store, poll_s=0.2)  # hold's default, as Stage.run waits
        thread.join(0.5)
        assert thread.is_alive() and got == []  # a live holder on this host blocks, however long it takes
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        holder.wait(10)
        thread.join(10)
    finally:
        holder.kill()
    assert len(got) == 1, "the killed holder's lease was never taken over"
    held, at = got[0]
    print(f"\nlease taken over {1000 * (at - killed):.0f} ms after SIGKILL of its holder")
    assert held.waited_for.pid == holder.pid and at - killed < 5
    assert not list(lease.lock_dir(store).iterdir())  # released: no marker, no takeover leftovers


def _foreign_marker(path: Path, ttl_s: float) -> None:
    """The marker of a lease held by pid 4242 on another host (filelock's protocol 2 record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["filelock/2", "pid=4242", "host=elsewhere", "mode=lease", f"token={'ab' * 16}", f"duration={ttl_s!r}"]
    path.write_text("".join(f"{line}\n" for line in fields))


def test_a_foreign_holder_keeps_its_lease_while_renewing_and_loses_it_once_it_stops(tmp_path):
    store, ttl_s = Store(tmp_path), 0.5
    _foreign_marker(_lease_path(store), ttl_s)
    thread, got = _hold_in_thread(store, ttl_s=ttl_s)
    for _ in range(12):  # 1.2 s, over twice the lease: the other host's heartbeat touches the marker
        time.sleep(0.1)
        last = time.monotonic()
        os.utime(_lease_path(store))
    assert thread.is_alive() and got == []  # its pid cannot be checked from here: only a stale marker expires
    thread.join(10)  # the other host died after its last renewal
    assert len(got) == 1 and got[0][0].waited_for.hostname == "elsewhere"
    assert ttl_s <= got[0][1] - last < 5  # expired on the waiter's own clock, ttl_s after the last renewal


def test_release_removes_the_lease_even_when_the_block_fails(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), lease.hold(store, "toy", "k1") as held:
        assert held.path == _lease_path(store) and held.path.is_file() and held.waited_for is None
        assert held.lock.owner.pid == os.getpid() and held.lock.owner.token == held.lock.token
        raise RuntimeError("boom")
    assert not list(lease.lock_dir(store).iterdir())
    started = time.monotonic()
    with lease.hold(store, "toy", "k1") as again:
        assert again.waited_for is None
    assert time.monotonic() - started < 1  # free at once


def test_a_long_holder_renews_its_lease(tmp_path):
    store, ttl_s = Store(tmp_path), 0.4
    with lease.hold(store, "toy", "k1", ttl_s=ttl_s) as held:
        first = held.path.stat().st_mtime_ns
        thread, got = _hold_in_thread(store, ttl_s=ttl_s)
        thread.join(3 * ttl_s)  # three lifetimes: still held, because the heartbeat renewed it
        assert thread.is_alive() and got == [], "a live holder's lease was taken over"
        assert held.path.stat().st_mtime_ns > first and held.lock.compromise is None
        released = time.monotonic()
    thread.join(5)
    assert len(got) == 1 and got[0][1] >= released


def test_an_empty_marker_is_cleared_once_it_stayed_empty_for_the_ttl(tmp_path):
    store, ttl_s = Store(tmp_path), 0.3
    _lease_path(store).parent.mkdir(parents=True)
    _lease_path(store).write_text("")  # a holder killed between creating its marker and writing its record
    started = time.monotonic()
    thread, got = _hold_in_thread(store, ttl_s=ttl_s)
    thread.join(10)
    assert len(got) == 1, "an empty marker blocked the lease"
    assert ttl_s <= got[0][1] - started < 5
    assert not list(lease.lock_dir(store).iterdir())  # nothing set aside is left


def test_clearing_an_empty_marker_never_removes_one_that_replaced_it(tmp_path):
    path = tmp_path / "toy-k1.lease"
    path.write_text("")
    seen = lease._empty_marker(path)
    path.unlink()
    _foreign_marker(path, 60.0)  # another waiter cleared it first and now holds the lease
    lease._discard_empty_marker(path, seen)
    assert path.read_text().startswith("filelock/2\n") and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_remote_store_keeps_its_leases_in_the_temp_dir(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = lease.lock_dir(Store("memory://lease-test"))
    assert folder.parent == tmp_path / "eltrepro-locks"
    assert folder == lease.lock_dir(Store("memory://lease-test"))  # one folder per store URL
    assert folder != lease.lock_dir(Store("memory://another"))
