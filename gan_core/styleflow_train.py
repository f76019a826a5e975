"""Train StyleFlow's conditional flow by maximum likelihood on (W code, condition) pairs.

The pairs are what StyleFlow trained on: W codes sampled from a generator, each with the condition measured on
its image (lighting by DPR, attributes). Each step draws a batch and a Rademacher probe from a generator seeded
with ``(seed, step)``, so a training is reproducible bit for bit on one machine, and minimises the negative
log-likelihood per dimension (``styleflow_density.flow_log_density``, Hutchinson's trace) with Adam.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import torch
from pydantic import Field

from gan_core.styleflow import SequentialFlow
from gan_core.styleflow_density import flow_log_density


@dataclass(frozen=True)
class FlowTrainConfig:
    """How the flow is trained.

    Attributes:
        steps: optimiser steps.
        batch: code/condition pairs per step.
        lr: Adam's learning rate.
        seed: the seed of every draw (batches and probes).
    """

    steps: Annotated[int, Field(ge=1)] = 2000
    batch: Annotated[int, Field(ge=2)] = 64
    lr: Annotated[float, Field(gt=0.0, le=1.0)] = 1e-3
    seed: Annotated[int, Field(ge=0)] = 0


def nll_per_dim(*, flow: SequentialFlow, codes: torch.Tensor, conditions: torch.Tensor, probe: torch.Tensor | None):
    """The mean negative log-likelihood of the codes, in nats per dimension (the training loss; exact when
    ``probe`` is None).

    Shapes:
        codes ``[B, rows, D]``, conditions ``[B, C]`` -> ``[]``.
    """
    density = flow_log_density(flow=flow, w=codes, condition=conditions, probe=probe)
    return -density.mean() / codes.shape[-1]


def train_flow(
    *,
    flow: SequentialFlow,
    codes: torch.Tensor,
    conditions: torch.Tensor,
    config: FlowTrainConfig,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Fit ``flow`` to the pairs (in place; left in eval mode without gradients, ready for ``relight_codes``).

    Args:
        flow: the flow to train (its running statistics start from the first batches).
        codes: W codes.
        conditions: each code's condition (lighting SH, then attributes).
        config: the training's settings.
        on_step: called with each step's index and loss.

    Returns:
        The loss of every step (nats per dimension).

    Shapes:
        codes ``[N, rows, D]``, conditions ``[N, C]``.
    """
    if len(codes) != len(conditions) or len(codes) < config.batch:
        raise ValueError(f"{len(codes)} codes, {len(conditions)} conditions: need as many, and at least one batch")
    flow.train().requires_grad_(True)
    optim = torch.optim.Adam(flow.parameters(), lr=config.lr)
    losses = []
    for step in range(config.steps):
        rng = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        picked = torch.randint(len(codes), (config.batch,), generator=rng)
        batch = codes[picked]
        probe = torch.randint(0, 2, batch.shape, generator=rng).to(batch) * 2 - 1
        loss = nll_per_dim(flow=flow, codes=batch, conditions=conditions[picked], probe=probe)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    flow.eval().requires_grad_(False)
    return losses
