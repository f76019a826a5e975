"""The preflight's look from inside the GPU pool: a tiny flow run that reports what a worker there sees.

``eltrepro doctor --pool`` runs it as a flow run of the ``gpu-probe`` deployment: whether a CUDA device is
visible, which, and whether the store can be written from there (a probe file written and removed).
"""

from __future__ import annotations

import socket

from prefect import flow
from prefect.artifacts import create_table_artifact

from kit.store import Store

ARTIFACT = "gpu-probe"  # the observation travels as a table artifact of the run: any machine can read it


@flow(name="gpu-probe")
def gpu_probe(store: str) -> dict[str, str | bool]:
    """What a GPU-pool worker sees: ``cuda`` (bool), ``device``, ``host``, ``store_writable`` and ``store_error``.

    Args:
        store: the store the run would use, as the workers see it.
    """
    import torch

    cuda = torch.cuda.is_available()
    seen: dict[str, str | bool] = {"cuda": cuda, "device": torch.cuda.get_device_name(0) if cuda else "cpu"}
    seen["host"] = socket.gethostname()
    try:
        problem = Store(store).write_problem()
    except Exception as error:  # the URL itself is unusable here: the report is the point
        problem = f"{type(error).__name__}: {error}"
    seen |= {"store_writable": problem is None, "store_error": problem or ""}
    create_table_artifact(key=ARTIFACT, table=[seen], description="what a GPU-pool worker sees")  # on the server
    return seen
