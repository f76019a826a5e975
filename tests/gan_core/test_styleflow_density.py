"""The flow's log-density: the exact trace equals the change of variables of ``to_latent``; Hutchinson's estimate
is unbiased; training mode moves the batch norms' running statistics."""

from __future__ import annotations

import math

import pytest
import torch

from gan_core.styleflow import SequentialFlow
from gan_core.styleflow_config import FlowConfig
from gan_core.styleflow_density import flow_log_density


def _random_flow() -> SequentialFlow:
    torch.manual_seed(0)
    flow = SequentialFlow(FlowConfig(dim=3, hidden=(8,), context=2, atol=1e-7, rtol=1e-7))
    with torch.no_grad():
        for p in flow.parameters():
            p.normal_(0, 0.5)
        flow.chain[0].running_mean.normal_()
        flow.chain[0].running_var.uniform_(0.5, 2.0)
    return flow


def test_the_exact_density_is_the_change_of_variables_of_to_latent():
    flow = _random_flow()
    w, c = torch.randn(3, 1, 3), torch.randn(3, 2)  # [B, rows, D], [B, C]
    density = flow_log_density(flow=flow, w=w, condition=c)
    for b in range(3):

        def to_z(x, b=b):
            return flow.to_latent.__wrapped__(flow, x.reshape(1, 1, 3), c[b : b + 1]).reshape(3)

        jacobian = torch.autograd.functional.jacobian(to_z, w[b, 0])
        z = to_z(w[b, 0])
        expected = -0.5 * (z * z).sum() - 1.5 * math.log(2 * math.pi) + torch.linalg.slogdet(jacobian).logabsdet
        assert density[b, 0].item() == pytest.approx(expected.item(), abs=1e-4)


def test_hutchinsons_estimate_is_unbiased():
    flow = _random_flow()
    w, c = torch.randn(1, 1, 3), torch.randn(1, 2)
    exact = flow_log_density(flow=flow, w=w, condition=c).item()
    n = 2000
    probe = torch.randint(0, 2, (n, 1, 3), generator=torch.Generator().manual_seed(1)).float() * 2 - 1
    estimates = flow_log_density(flow=flow, w=w.expand(n, 1, 3), condition=c.expand(n, 2), probe=probe)
    assert abs(estimates.mean().item() - exact) < 4 * estimates.std().item() / math.sqrt(n)
    assert estimates.std().item() > 0  # a real estimate, not the exact value again


def test_training_mode_uses_the_batch_and_moves_the_running_statistics():
    flow = _random_flow().train()
    w = 3.0 + torch.randn(64, 2, 3)  # far from the running mean
    before = flow.chain[0].running_mean.clone()
    flow_log_density(flow=flow, w=w, condition=torch.randn(64, 2))
    moved = flow.chain[0].running_mean - before
    expected = 0.1 * (w.reshape(-1, 3).mean(0) - before)
    assert torch.allclose(moved, expected, atol=1e-6) and flow.chain[0].step.item() == 1
