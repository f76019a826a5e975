"""The log-density of W codes under StyleFlow's conditional flow: what training by maximum likelihood needs.

Inference (``styleflow.SequentialFlow.to_latent``) integrates the codes alone. Training also needs how the flow
changes density (FFJORD, Grathwohl et al. 2019): for ``z = flow(w | c)``,

    log p(w | c) = log N(z; 0, I) + log|det J_bn0| + integral_0^T tr(df/dy) dt + log|det J_bn2|

where ``f`` is the CNF's derivative and each moving batch norm scales each dimension by
``exp(weight) / sqrt(var + eps)``. The trace is exact (one backward pass per dimension; for small flows and
tests) or Hutchinson's unbiased estimate ``e^T (df/dy) e`` with a fixed probe ``e`` (one backward pass; what
training uses). In training mode the batch norms use the batch's statistics and move their running statistics
toward them, as StyleFlow's training does; in eval mode they use the running ones, so the density is that of
the map ``to_latent`` computes.
"""

from __future__ import annotations

import math

import torch
from torchdiffeq import odeint

from gan_core.styleflow import CNF, MovingBatchNorm1d, SequentialFlow

BN_MOMENTUM = 0.1  # how far a training batch moves the running statistics


def flow_log_density(
    *, flow: SequentialFlow, w: torch.Tensor, condition: torch.Tensor, probe: torch.Tensor | None = None
) -> torch.Tensor:
    """log p(w | condition) of each code row under the flow and its standard normal prior.

    Args:
        flow: the flow (in training mode its batch norms use and update batch statistics).
        w: codes.
        condition: one condition per code.
        probe: Hutchinson's probe, the shape of ``w`` (Rademacher or Gaussian); None for the exact trace.

    Returns:
        The log-density in nats of each row.

    Shapes:
        w ``[B, rows, D]``, condition ``[B, C]``, probe ``[B, rows, D]`` -> ``[B, rows]``.
    """
    condition = flow.check_inputs(w, condition)
    first, cnf, last = flow.chain
    y, log_det = _batch_norm(first, w, train=flow.training)
    y, trace = _integrate(cnf, y, condition, probe)
    z, log_det_last = _batch_norm(last, y, train=flow.training)
    prior = -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)
    return prior + log_det + trace + log_det_last


def _batch_norm(norm: MovingBatchNorm1d, x: torch.Tensor, *, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The norm's forward map and its log|det| per row (batch statistics, then a running update, in training).

    Shapes:
        x ``[B, rows, D]`` -> (``[B, rows, D]``, ``[]`` broadcast to every row).
    """
    if train:
        points = x.reshape(-1, x.shape[-1])
        mean, var = points.mean(0), points.var(0, unbiased=False)
        with torch.no_grad():
            norm.running_mean.lerp_(mean.detach(), BN_MOMENTUM)
            norm.running_var.lerp_(var.detach(), BN_MOMENTUM)
            norm.step += 1
    else:
        mean, var = norm.running_mean, norm.running_var
    log_std = 0.5 * torch.log(var + norm.eps)
    y = (x - mean) * torch.exp(norm.weight - log_std) + norm.bias
    return y, (norm.weight - log_std).sum()


def _integrate(
    cnf: CNF, y: torch.Tensor, condition: torch.Tensor, probe: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The CNF's end state and the integral of the derivative's trace along the path (per row).

    Shapes:
        y ``[B, rows, D]`` -> (``[B, rows, D]``, ``[B, rows]``).
    """
    end = cnf.sqrt_end_time * cnf.sqrt_end_time
    times = torch.stack([torch.zeros_like(end), end]).to(y)
    diffeq = cnf.odefunc.diffeq

    def derivative(t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = state[0]
        with torch.enable_grad():
            x = x if x.requires_grad else x.requires_grad_(True)
            tc = torch.cat([t.expand(x.shape[0], 1).to(x), condition], dim=1)
            dx = diffeq(tc, x)
            return dx, _trace(dx, x, probe)

    start = (y, torch.zeros(y.shape[:-1], dtype=y.dtype, device=y.device))
    config = cnf.config
    states = odeint(derivative, start, times, method="dopri5", atol=config.atol, rtol=config.rtol)
    return states[0][-1], states[1][-1]


def _trace(dx: torch.Tensor, x: torch.Tensor, probe: torch.Tensor | None) -> torch.Tensor:
    """tr(d dx / d x) per row: exact (a backward pass per dimension) or ``probe^T J probe``.

    Shapes:
        dx, x ``[B, rows, D]`` -> ``[B, rows]``.
    """
    if probe is not None:
        (vjp,) = torch.autograd.grad(dx, x, probe, create_graph=True)
        return (vjp * probe).sum(-1)
    total = torch.zeros(dx.shape[:-1], dtype=dx.dtype, device=dx.device)
    for i in range(dx.shape[-1]):
        (grad,) = torch.autograd.grad(dx[..., i].sum(), x, create_graph=True)
        total = total + grad[..., i]
    return total
