"""StyleFlow's conditional continuous normalizing flow (Abdal, Zhu, Mitra, Wonka, ACM TOG 2021) and its
lighting edit of a W+ code.

The flow maps each of the 18 W+ rows (512-dim) to a latent z, conditioned on a 17-dim vector (9 SH lighting
coefficients + 8 attributes): moving batch norm, one CNF block, moving batch norm. The CNF's derivative is an
MLP of ConcatSquash linear layers (each output is ``linear(x) * sigmoid(gate(t, c)) + bias(t, c)``) with tanh
between layers, integrated over ``[0, T]`` (``T = sqrt_end_time^2``, learned) by torchdiffeq's dopri5 at
atol = rtol = 1e-5. Module and parameter names are the published ones (``chain.0.running_mean``,
``chain.1.odefunc.diffeq.layers.0._hyper_gate.weight``, ...), so ``modellarge10k.pt`` loads strictly.

Inference integrates the state alone: the published code also carries the log-density and the (constant)
condition through the solver, which only matters for training; the step-size control then sees only x,
so results agree with the published code to within the solver tolerance.

Directions, as in StyleFlow's editor: ``to_latent`` (w -> z) runs the chain forward, ``from_latent`` (z -> w)
runs it backward. The lighting edit replaces the 9 lighting entries of the condition and keeps only W+ rows
7-11 of the result (the others from the original code).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchdiffeq import odeint

from gan_core.strict import load_strict
from gan_core.styleflow_config import LIGHTING_ROWS, FlowConfig
from landmark_core.weights_file import load_weights_file

TINY_FLOW = FlowConfig(dim=16, hidden=(32, 32))


class MovingBatchNorm1d(nn.Module):
    """Batch norm with running statistics only (inference), invertible, with a log-scale weight."""

    def __init__(self, dim: int, eps: float = 1e-4):
        super().__init__()
        self.eps = eps
        self.register_buffer("step", torch.zeros(1))
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        std = torch.exp(0.5 * torch.log(self.running_var + self.eps))
        if reverse:
            return (x - self.bias) * torch.exp(-self.weight) * std + self.running_mean
        return (x - self.running_mean) / std * torch.exp(self.weight) + self.bias


class ConcatSquashLinear(nn.Module):
    """``linear(x) * sigmoid(gate([t, c])) + bias([t, c])``."""

    def __init__(self, dim_in: int, dim_out: int, dim_c: int):
        super().__init__()
        self._layer = nn.Linear(dim_in, dim_out)
        self._hyper_bias = nn.Linear(1 + dim_c, dim_out, bias=False)
        self._hyper_gate = nn.Linear(1 + dim_c, dim_out)

    def forward(self, tc: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self._hyper_gate(tc)).unsqueeze(1)  # [B, 1, out] over the 18 rows
        return self._layer(x) * gate + self._hyper_bias(tc).unsqueeze(1)


class ODEnet(nn.Module):
    def __init__(self, config: FlowConfig):
        super().__init__()
        dims = (config.dim, *config.hidden, config.dim)
        self.layers = nn.ModuleList(
            ConcatSquashLinear(a, b, config.context) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.activation_fns = nn.ModuleList(nn.Tanh() for _ in config.hidden)

    def forward(self, tc: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            y = layer(tc, y)
            if i < len(self.activation_fns):
                y = self.activation_fns[i](y)
        return y


class ODEfunc(nn.Module):
    def __init__(self, config: FlowConfig):
        super().__init__()
        self.diffeq = ODEnet(config)
        self.register_buffer("_num_evals", torch.tensor(0.0))


class CNF(nn.Module):
    """One continuous normalizing flow block over ``[0, sqrt_end_time^2]``."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        self.sqrt_end_time = nn.Parameter(torch.tensor(1.0))
        self.odefunc = ODEfunc(config)

    def forward(self, x: torch.Tensor, context: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        end = self.sqrt_end_time * self.sqrt_end_time
        times = torch.stack([end, torch.zeros_like(end)]) if reverse else torch.stack([torch.zeros_like(end), end])
        diffeq = self.odefunc.diffeq

        def derivative(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            tc = torch.cat([t.expand(y.shape[0], 1).to(y), context], dim=1)
            return diffeq(tc, y)

        return odeint(derivative, x, times.to(x), method="dopri5", atol=self.config.atol, rtol=self.config.rtol)[-1]


class SequentialFlow(nn.Module):
    """moving batch norm -> CNF -> moving batch norm, as StyleFlow builds it (``chain``)."""

    def __init__(self, config: FlowConfig = FlowConfig()):
        super().__init__()
        self.config = config
        self.chain = nn.ModuleList([MovingBatchNorm1d(config.dim), CNF(config), MovingBatchNorm1d(config.dim)])
        self.eval().requires_grad_(False)

    def check_inputs(self, w: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """The condition on the codes' device and type, after checking both shapes (ValueError naming them)."""
        if w.ndim != 3 or w.shape[2] != self.config.dim or condition.shape != (w.shape[0], self.config.context):
            raise ValueError(
                f"expected codes [B, rows, {self.config.dim}] and conditions [B, {self.config.context}], "
                f"got {tuple(w.shape)} and {tuple(condition.shape)}"
            )
        return condition.to(w)

    @torch.no_grad()
    def to_latent(self, w: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """w ``[B, 18, D]`` (condition ``[B, 17]``) -> z ``[B, 18, D]``."""
        condition = self.check_inputs(w, condition)
        for layer in self.chain:
            w = layer(w, condition)
        return w

    @torch.no_grad()
    def from_latent(self, z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """z ``[B, 18, D]`` (condition ``[B, 17]``) -> w ``[B, 18, D]``."""
        condition = self.check_inputs(z, condition)
        for layer in reversed(self.chain):
            z = layer(z, condition, reverse=True)
        return z


def relight_codes(
    *,
    flow: SequentialFlow,
    w: torch.Tensor,
    source: torch.Tensor,
    target_sh: torch.Tensor,
    rows: tuple[int, int] = LIGHTING_ROWS,
) -> torch.Tensor:
    """StyleFlow's lighting edit of W+ codes.

    Args:
        flow: the conditional flow.
        w: ``[B, 18, D]`` projected codes.
        source: ``[B, 17]`` each face's condition (its SH lighting, then its 8 attributes).
        target_sh: ``[B, 9]`` the lighting to move to.
        rows: the W+ rows taken from the edited code (the rest stay as projected).

    Returns:
        ``[B, 18, D]`` edited codes.
    """
    target = source.clone()
    target[:, :9] = target_sh
    return edit_codes(flow=flow, w=w, source=source, target=target, rows=rows)


def edit_codes(
    *, flow: SequentialFlow, w: torch.Tensor, source: torch.Tensor, target: torch.Tensor, rows: tuple[int, int]
) -> torch.Tensor:
    """StyleFlow's edit of W+ codes from one condition to another (lighting or any attribute).

    Args:
        flow: the conditional flow.
        w: ``[B, 18, D]`` projected codes.
        source: ``[B, 17]`` each face's condition.
        target: ``[B, 17]`` the condition to move to.
        rows: the W+ rows ``[first, last)`` taken from the edited code (the rest stay as projected).

    Returns:
        ``[B, 18, D]`` edited codes.
    """
    edited = flow.from_latent(flow.to_latent(w, source), target)
    out = w.clone()
    out[:, rows[0] : rows[1]] = edited[:, rows[0] : rows[1]]
    return out


def load_styleflow(path: Path, *, config: FlowConfig = FlowConfig()) -> SequentialFlow:
    """The published flow weights (``modellarge10k.pt``), strictly (``weights_only``; every key and shape).

    Raises:
        WeightsMismatchError: keys or shapes differ.
    """
    flow = SequentialFlow(config)
    load_strict(flow, load_weights_file(path, what="StyleFlow weights"), source=f"{path} (StyleFlow {config})")
    return flow.eval()
