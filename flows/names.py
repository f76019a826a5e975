"""The names the Prefect side is known by, defined once: the work pools, the GPU concurrency limit and the
deployments (``prefect.yaml`` spells the same names; ``tests/flows/test_deployment_files.py`` checks they agree).
"""

from __future__ import annotations

CPU_POOL = "cpu-pool"  # the flow that walks the graph, and the review flow
GPU_POOL = "gpu-pool"  # rows and every stage declared ``gpu=True``
GPU_LIMIT = "eltrepro-gpu"  # the global concurrency limit on GPU work, pool-wide
GPU_LIMIT_SLOTS = 2  # the slots the set-up commands give it

TRAIN_DEPLOYMENT = "train-experiment/train-experiment"
STAGE_DEPLOYMENT = "run-stage/run-stage"
PROBE_DEPLOYMENT = "gpu-probe/gpu-probe"
