"""StyleFlow's conditional CNF: invertibility, strict loading, and the lighting edit."""

import pytest
import torch

from gan_core.styleflow import TINY_FLOW, SequentialFlow, load_styleflow, relight_codes
from gan_core.styleflow_config import FlowConfig


def _flow(config: FlowConfig = TINY_FLOW, seed: int = 0) -> SequentialFlow:
    torch.manual_seed(seed)
    flow = SequentialFlow(config)
    with torch.no_grad():
        for p in flow.parameters():
            p.normal_(0.0, 0.3)
        for bn in (flow.chain[0], flow.chain[2]):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
    return flow


def test_round_trip_is_exact_to_solver_tolerance():
    flow = _flow()
    w = torch.randn(3, 18, TINY_FLOW.dim)
    c = torch.randn(3, 17)
    z = flow.to_latent(w, c)
    assert (z - w).abs().max() > 0.5  # the flow does something
    assert (flow.from_latent(z, c) - w).abs().max() < 1e-4
    other = flow.from_latent(z, c + 1.0)
    assert (other - w).abs().max() > 1e-2  # and depends on the condition


def test_published_layout_at_full_size():
    flow = SequentialFlow(FlowConfig())
    keys = flow.state_dict()
    assert "chain.1.odefunc.diffeq.layers.5._hyper_gate.weight" in keys
    assert tuple(keys["chain.1.odefunc.diffeq.layers.0._hyper_bias.weight"].shape) == (512, 18)
    assert {
        "chain.0.step",
        "chain.0.running_var",
        "chain.1.sqrt_end_time",
        "chain.1.odefunc._num_evals",
        "chain.2.weight",
    } <= set(keys)
    assert len(keys) == 2 * 5 + 2 + 6 * 5


def test_saved_flow_reloads_strictly(tmp_path):
    flow = _flow(seed=3)
    torch.save(flow.state_dict(), tmp_path / "flow.pt")
    again = load_styleflow(tmp_path / "flow.pt", config=TINY_FLOW)
    w, c = torch.randn(2, 18, TINY_FLOW.dim), torch.randn(2, 17)
    assert torch.equal(again.to_latent(w, c), flow.to_latent(w, c))
    torch.save({**flow.state_dict(), "chain.3.weight": torch.zeros(1)}, tmp_path / "extra.pt")
    with pytest.raises(ValueError, match="chain.3.weight"):
        load_styleflow(tmp_path / "extra.pt", config=TINY_FLOW)
    with pytest.raises(ValueError, match="shape mismatches"):
        load_styleflow(tmp_path / "flow.pt", config=FlowConfig(dim=16, hidden=(32, 32, 32)))


def test_lighting_edit_touches_only_rows_7_to_11():
    flow = _flow(seed=1)
    w, source = torch.randn(2, 18, TINY_FLOW.dim), torch.randn(2, 17)
    same = relight_codes(flow=flow, w=w, source=source, target_sh=source[:, :9])
    assert (same - w).abs().max() < 1e-4  # the same lighting gives back the code
    edited = relight_codes(flow=flow, w=w, source=source, target_sh=source[:, :9] + 0.5)
    assert torch.equal(edited[:, :7], w[:, :7]) and torch.equal(edited[:, 12:], w[:, 12:])
    assert (edited[:, 7:12] - w[:, 7:12]).abs().max() > 1e-2


def test_shapes_are_checked():
    flow = _flow()
    with pytest.raises(ValueError, match="conditions"):
        flow.to_latent(torch.zeros(2, 18, TINY_FLOW.dim), torch.zeros(2, 9))


def test_an_attribute_edit_moves_its_condition_entry_and_only_its_published_rows():
    from gan_core.attributes import EDIT_ROWS, edit_condition
    from gan_core.styleflow import edit_codes

    flow = _flow(seed=2)
    w, source = torch.randn(1, 18, TINY_FLOW.dim), torch.randn(1, 17)
    target = torch.from_numpy(edit_condition(source=source[0].numpy(), attribute="beard", target=1.0))[None]
    first, last = EDIT_ROWS["beard"]
    edited = edit_codes(flow=flow, w=w, source=source, target=target, rows=(first, last))
    assert torch.equal(edited[:, :first], w[:, :first]) and torch.equal(edited[:, last:], w[:, last:])
    moved = (edited[:, first:last] - w[:, first:last]).abs().max()
    unmoved = (edit_codes(flow=flow, w=w, source=source, target=source, rows=(first, last)) - w).abs().max()
    assert moved > 1e-3 and unmoved < 1e-4 and moved > 10 * unmoved
