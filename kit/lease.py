"""A lease on one stage key: one writer at a time, and a writer that dies never blocks the next.

Two runs that need the same output at once must compute it once, and a run killed in the middle (``kill -9``,
a lost machine, an out-of-memory kill) must not leave a lock that stops every later run. A lease is a small
JSON file ``<lock dir>/<stage>-<key>.lease`` naming its holder (host, process id, a random id) and the time
it expires. The holder renews it from a background thread every ``ttl_s / 4`` seconds, so a long stage keeps
it; a waiting run takes it over as soon as

* the holder's process is gone (same host: checked at once), or
* the lease has expired (a holder on another host that stopped renewing: at most ``ttl_s`` later).

Leases of a local store live in ``<store>/.locks``; a remote store (S3) has no atomic create, so its leases
serialise the runs of one machine only (``<tmp>/eltrepro-locks/<store hash>``) and two machines may compute the
same key at once, the first complete upload winning (see ``kit.store``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kit.store import Store

DEFAULT_TTL_S = 60.0


def lock_dir(store: Store) -> Path:
    """Where the leases of ``store`` live (created on first use)."""
    if store.local:
        return Path(store.root) / ".locks"
    digest = hashlib.sha256(store.url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "eltrepro-locks" / digest


@dataclass(frozen=True)
class Holder:
    """Who holds a lease and until when (seconds since the epoch)."""

    host: str
    pid: int
    token: str
    expires: float

    def gone(self, now: float) -> bool:
        """True when the lease can be taken over: expired, or its process on this host has exited."""
        if now > self.expires:
            return True
        return self.host == socket.gethostname() and not _alive(self.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _read(path: Path) -> Holder | None:
    """The holder written in ``path``; None when the file is gone; an expired holder when it is unreadable
    (a writer killed between create and write leaves an empty file)."""
    try:
        data = json.loads(path.read_text())
        return Holder(
            host=str(data["host"]), pid=int(data["pid"]), token=str(data["token"]), expires=float(data["expires"])
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError):
        return Holder(host="", pid=0, token="", expires=0.0)


class Lease:
    """A held lease (from ``acquire``); renewed in the background until ``release``."""

    def __init__(self, path: Path, ttl_s: float) -> None:
        self.path = path
        self.ttl_s = ttl_s
        self.token = uuid.uuid4().hex
        self.taken_over: Holder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _content(self) -> str:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token}
        return json.dumps(holder | {"expires": time.time() + self.ttl_s})

    def try_take(self) -> bool:
        """Create the lease file, or take it over from a holder that is gone; True when this lease holds it."""
        while not self._create():
            holder = _read(self.path)
            if holder is None or not holder.gone(time.time()):
                return False
            stale = self.path.with_name(f"{self.path.name}.stale-{self.token}")
            try:
                os.rename(self.path, stale)  # only one of several waiting runs wins this rename
            except FileNotFoundError:
                return False
            stale.unlink(missing_ok=True)
            self.taken_over = holder
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.path.name}", daemon=True)
        self._thread.start()
        return True

    def _create(self) -> bool:
        """Make the lease file appear whole, or not at all: written under a private name, then hard-linked to
        the lease's name, which fails when it exists. (An exclusive create followed by a write would show a
        waiting run an empty file for a moment, which it must read as a dead holder's.)"""
        staged = self.path.with_name(f"{self.path.name}.new-{self.token}")
        staged.write_text(self._content())
        try:
            os.link(staged, self.path)
        except FileExistsError:
            return False
        finally:
            staged.unlink(missing_ok=True)
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            holder = _read(self.path)
            if holder is None or holder.token != self.token:
                return  # taken over (we were presumed dead): nothing left to renew
            tmp = self.path.with_name(f"{self.path.name}.renew-{self.token}")
            tmp.write_text(self._content())
            os.replace(tmp, self.path)

    def release(self) -> None:
        """Stop renewing and remove the lease file (when it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        holder = _read(self.path)
        if holder is not None and holder.token == self.token:
            self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def hold(store: Store, stage: str, key: str, *, ttl_s: float = DEFAULT_TTL_S, poll_s: float = 0.2) -> Iterator[Lease]:
    """Hold the lease of ``stage``/``key`` in ``store`` for the duration of the block, waiting while a live
    holder has it.

    Args:
        store: the store whose key is written.
        stage: stage name.
        key: the stage key.
        ttl_s: how long the lease lasts without renewal (how soon another host's dead holder is replaced).
        poll_s: how often a waiting run looks again.

    Returns:
        The held ``Lease`` (``taken_over`` names the dead holder it replaced, if any).
    """
    folder = lock_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    lease = Lease(folder / f"{stage}-{key}.lease", ttl_s)
    while not lease.try_take():
        time.sleep(poll_s)
    try:
        yield lease
    finally:
        lease.release()
