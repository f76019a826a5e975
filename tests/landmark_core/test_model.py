"""The cascaded encoder-decoder: shapes at every level, the regulariser, strict loading, parameter count."""

from __future__ import annotations

import pytest
import torch

from landmark_core.model import (
    CascadedLandmarkNet,
    EncoderDecoder,
    HeatmapHead,
    InvertedResidual,
    heatmap_drop,
    parameter_count,
    peak_normalised,
)
from landmark_core.train_config import ModelConfig

TINY = ModelConfig(
    size=32,
    stem_channels=4,
    encoder_channels=(8, 8, 16, 16),
    encoder_blocks=(1, 1, 1, 2),
    decoder_channels=(16, 8, 8, 8),
    expansion=2,
)


def test_study_config_has_a_8x8x256_bottleneck_and_98_heatmaps_at_128():
    config = ModelConfig()
    trunk = EncoderDecoder(3, config)
    seen = {}
    trunk.down[-1].register_forward_hook(lambda m, i, o: seen.update(bottleneck=o.shape))
    features = trunk(torch.rand(1, 3, 128, 128))
    assert seen["bottleneck"] == (1, 256, 8, 8)
    assert features.shape == (1, 32, 128, 128)
    blocks = [sum(isinstance(m, InvertedResidual) for m in d) for d in trunk.down]
    assert blocks == [1, 2, 3, 4]  # more blocks toward the bottleneck
    model = CascadedLandmarkNet(config)
    assert len(model.trunks) == 2 and model.trunks[1].stem[0].in_channels == 3 + 98
    assert parameter_count(model) == 9_339_780


def test_forward_returns_every_stage_and_head_is_separable():
    model = CascadedLandmarkNet(TINY).eval()
    out = model(torch.rand(2, 3, 32, 32))
    assert len(out) == 2 and all(o.shape == (2, 98, 32, 32) for o in out)
    assert isinstance(model.heads[0], HeatmapHead)
    features = model.trunks[0]((torch.rand(2, 3, 32, 32) - 0.5) / 0.25)
    torch.testing.assert_close(model.heads[0](features).shape, out[0].shape)


def test_inverted_residual_is_a_residual_block():
    block = InvertedResidual(8, 6)
    torch.nn.init.zeros_(block.block[2][1].weight)  # zero the projection's BN scale -> identity
    x = torch.randn(1, 8, 5, 5)
    torch.testing.assert_close(block.eval()(x), x)
    assert block.block[1][0].groups == 48  # depthwise 3x3 on the expanded channels


def test_heatmap_drop_zeroes_whole_maps_in_training_only():
    torch.manual_seed(0)
    maps = torch.ones(4, 98, 8, 8)
    dropped = heatmap_drop(maps, p=0.5, training=True)
    per_map = dropped.flatten(2).amax(-1)
    assert set(per_map.unique().tolist()) == {0.0, 1.0}
    assert (dropped.flatten(2).amin(-1) == per_map).all()  # a map is either all kept or all zero
    assert 0.35 < float((per_map == 0).float().mean()) < 0.65
    assert torch.equal(heatmap_drop(maps, p=0.5, training=False), maps)


def test_peak_normalised_maps_peak_at_one():
    maps = peak_normalised(torch.randn(2, 3, 6, 6))
    torch.testing.assert_close(maps.flatten(2).amax(-1), torch.ones(2, 3))
    assert (maps >= 0).all()


def test_strict_state_dict_round_trip_and_mismatch_is_refused():
    a, b = CascadedLandmarkNet(TINY), CascadedLandmarkNet(TINY)
    b.load_state_dict(a.state_dict(), strict=True)
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(a.eval()(x)[-1], b.eval()(x)[-1])
    state = a.state_dict()
    state.pop(next(iter(state)))
    with pytest.raises(RuntimeError, match="Missing key"):
        b.load_state_dict(state, strict=True)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(size=100)
    with pytest.raises(ValueError, match="same length"):
        ModelConfig(encoder_blocks=(1, 2))
