"""Progress of long stages: a Prefect progress artifact in the UI, and any in-process listeners (the CLI's bar).

A stage reports ``(name, fraction)``; ``StageProgress`` forwards it to the progress artifact of the current
task run (throttled, the API is remote) and to the listeners subscribed with ``listening``. Listeners let
``eltrepro run`` draw a rich progress bar for the stages that run in its own process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import TaskRunContext

Listener = Callable[[str, float], None]
_LISTENERS: list[Listener] = []


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener(name, fraction)`` for every progress report made while the context is open."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


class StageProgress:
    """Progress of one named piece of work (e.g. ``train rot_l0.25``), from 0 to 1."""

    def __init__(self, name: str, *, min_interval_s: float = 5.0) -> None:
        self.name = name
        self.min_interval_s = min_interval_s
        self._artifact: UUID | None = None
        self._sent = 0.0
        if TaskRunContext.get() is not None:  # artifacts belong to a task or flow run
            self._artifact = create_progress_artifact(progress=0.0, description=name)

    def update(self, fraction: float) -> None:
        """Report ``fraction`` (clipped to [0, 1]) of the work done."""
        fraction = min(1.0, max(0.0, fraction))
        for listener in list(_LISTENERS):
            listener(self.name, fraction)
        now = time.monotonic()
        if self._artifact is not None and (fraction >= 1.0 or now - self._sent >= self.min_interval_s):
            update_progress_artifact(artifact_id=self._artifact, progress=100.0 * fraction)
            self._sent = now
