"""Training the flow by maximum likelihood: on pairs with a known conditional law, the held-out likelihood rises
and the edit of a code to another condition moves it as the law says; a training is reproducible."""

from __future__ import annotations

import pytest
import torch

from gan_core.styleflow import SequentialFlow, edit_codes
from gan_core.styleflow_config import FlowConfig
from gan_core.styleflow_train import FlowTrainConfig, nll_per_dim, train_flow

MIXING = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))  # w = MIXING c + 0.2 noise
SETTINGS = FlowTrainConfig(steps=150, batch=64, lr=1e-2, seed=0)


def _pairs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes ``[n, 1, 4]`` and their conditions ``[n, 2]``."""
    rng = torch.Generator().manual_seed(seed)
    c = torch.randn(n, 2, generator=rng)
    return (c @ MIXING.T + 0.2 * torch.randn(n, 4, generator=rng))[:, None, :], c


def _flow() -> SequentialFlow:
    torch.manual_seed(0)
    return SequentialFlow(FlowConfig(dim=4, hidden=(32, 32), context=2, atol=1e-4, rtol=1e-4))


@pytest.fixture(scope="module")
def trained() -> tuple[SequentialFlow, list[float], float]:
    """A flow trained on 512 pairs, its losses, and the held-out NLL before training."""
    flow, (held, conditions) = _flow(), _pairs(200, 2)
    before = nll_per_dim(flow=flow, codes=held, conditions=conditions, probe=None).item()
    losses = train_flow(flow=flow, codes=_pairs(512, 1)[0], conditions=_pairs(512, 1)[1], config=SETTINGS)
    return flow, losses, before


@pytest.mark.slow
def test_the_held_out_likelihood_rises_by_a_wide_margin(trained):
    flow, losses, before = trained
    held, conditions = _pairs(200, 2)
    with torch.no_grad():
        after = nll_per_dim(flow=flow, codes=held, conditions=conditions, probe=None).item()
    assert before > 2.0 and after < 0.5, (before, after)  # the law's own NLL is -0.19 nats per dimension
    assert not flow.training and not any(p.requires_grad for p in flow.parameters())  # ready for edits


@pytest.mark.slow
def test_an_edit_to_another_condition_moves_the_code_as_the_law_says(trained):
    flow, _, _ = trained
    held, source = _pairs(200, 2)
    target = torch.randn(200, 2, generator=torch.Generator().manual_seed(5))
    truth = held + ((target - source) @ MIXING.T)[:, None, :]
    edited = edit_codes(flow=flow, w=held, source=source, target=target, rows=(0, 1))
    error = (edited - truth).norm(dim=-1).mean().item()
    assert error < 0.15 * (held - truth).norm(dim=-1).mean().item()


def test_a_training_is_reproducible_and_checks_its_pairs():
    codes, conditions = _pairs(64, 1)
    short = FlowTrainConfig(steps=3, batch=16, lr=1e-2, seed=4)
    first = train_flow(flow=_flow(), codes=codes, conditions=conditions, config=short)
    assert train_flow(flow=_flow(), codes=codes, conditions=conditions, config=short) == first
    with pytest.raises(ValueError, match="64 codes, 63 conditions"):
        train_flow(flow=_flow(), codes=codes, conditions=conditions[:63], config=short)
