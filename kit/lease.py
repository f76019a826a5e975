"""A lease on one stage key: one writer at a time, and a writer that dies never blocks the next.

Two runs that need the same output at once must compute it once, and a run killed in the middle (``kill -9``,
a lost machine, an out-of-memory kill) must not leave a lock that stops every later run. The lease is
``filelock.SoftFileLease`` on ``<lock dir>/<stage>-<key>.lease``: a marker naming its holder (host and pid
namespace, pid, process start time, a random token, the lease duration ``ttl_s``), touched by the holder's
background heartbeat every ``ttl_s / 3`` seconds, so a long stage keeps it. A waiting run takes it over

* at once when the holder's process on this host is gone (a reused pid is told apart by its start time), or
* when it has seen the marker unchanged for ``ttl_s`` on its own monotonic clock (a holder that stopped renewing:
  dead on another host, or frozen; no clock agreement is needed, but every peer must use the same ``ttl_s``,
  else ``filelock.LeaseSettingsMismatch``), or
* when it has seen the marker empty for ``ttl_s`` (a holder killed between creating the marker and writing its
  record; filelock reads an empty marker as an old filelock's live holder and never breaks it, so this module does).

Why not ``filelock.StrictSoftFileLock``, the fail-closed lock meant for where overlap is unsafe: its claims are
removed only by their owner or ``force_break``, so a ``kill -9`` holder blocks every later run until someone
intervenes (checked: still blocked after the holder was killed). That breaks the first promise above, and
overlap here is not unsafe: a lease overlaps only when a live holder stops renewing for ``ttl_s`` (a frozen or
suspended process), and then both writers compute, outputs are published by atomic rename (``stage.json``
last), so the worst is wasted work or a failed older run, never a torn output. A lost lease is logged.

Leases of a local store live in ``<store>/.locks``; a remote store (S3) has no atomic create, so its leases
serialise the runs of one machine only (``<tmp>/eltrepro-locks/<store hash>``) and two machines may compute the
same key at once, the first complete upload winning (see ``kit.store``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import LeaseCompromise, OwnerRecord, SoftFileLease, Timeout

from kit.store import Store

DEFAULT_TTL_S = 60.0
_LOG = logging.getLogger(__name__)


def lock_dir(store: Store) -> Path:
    """Where the leases of ``store`` live (created on first use).

    Args:
        store: the store whose keys are leased.

    Returns:
        ``<store>/.locks`` for a local store, else a folder of this machine's temp dir named by the store's URL.
    """
    if store.local:
        return Path(store.root) / ".locks"
    digest = hashlib.sha256(store.url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "eltrepro-locks" / digest


@dataclass(frozen=True)
class Held:
    """A held lease: its file, the filelock lease (``lock.token`` identifies this hold) and the holder this run
    found when it began to wait (None when the lease was free); that holder released it, died or expired."""

    path: Path
    lock: SoftFileLease
    waited_for: OwnerRecord | None


def _empty_marker(path: Path) -> tuple[int, int] | None:
    """(inode, mtime) of ``path`` when it is an empty file, else None."""
    with contextlib.suppress(OSError):
        if (st := path.stat()).st_size == 0:
            return st.st_ino, st.st_mtime_ns
    return None


def _discard_empty_marker(path: Path, seen: tuple[int, int]) -> None:
    """Remove the empty marker ``seen`` at ``path``; a marker that replaced it meanwhile is put back."""
    aside = path.with_name(f"{path.name}.abandoned-{uuid.uuid4().hex}")
    with contextlib.suppress(FileNotFoundError):
        os.rename(path, aside)
        if _empty_marker(aside) != seen:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        aside.unlink()


def _lost(compromise: LeaseCompromise) -> None:
    _LOG.warning("lease %s lost (%s): another run may now write this key", compromise.lock_file, compromise.reason)


@contextlib.contextmanager
def hold(store: Store, stage: str, key: str, *, ttl_s: float = DEFAULT_TTL_S, poll_s: float = 0.2) -> Iterator[Held]:
    """Hold the lease of ``stage``/``key`` in ``store`` for the duration of the block, waiting while a live
    holder has it.

    Args:
        store: the store whose key is written.
        stage: stage name.
        key: the stage key.
        ttl_s: how long a marker must stay unchanged before another host's holder counts as dead (the heartbeat
            renews it every ``ttl_s / 3``); every run leasing the same key must use the same value.
        poll_s: how often a waiting run looks again.

    Returns:
        The ``Held`` lease, released (its file removed) when the block exits.
    """
    folder = lock_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stage}-{key}.lease"
    lock = SoftFileLease(path, lease_duration=ttl_s, poll_interval=poll_s, on_compromise=_lost)
    waited_for = lock.owner
    while True:
        seen = _empty_marker(path)
        try:
            lock.acquire(timeout=ttl_s)
            break
        except Timeout:
            if seen is not None and _empty_marker(path) == seen:
                _discard_empty_marker(path, seen)
    try:
        yield Held(path=path, lock=lock, waited_for=waited_for)
    finally:
        lock.release()
