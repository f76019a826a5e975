"""StyleGAN2's residual discriminator: shapes, the minibatch-stddev feature, equalised learning rate, strict loading."""

from __future__ import annotations

import math

import pytest
import torch

from gan_core.gan_train_config import DiscriminatorConfig
from gan_core.strict import WeightsMismatchError, load_strict
from gan_core.stylegan2_discriminator import ConvLayer, Discriminator, EqualConv2d, ResBlock, minibatch_stddev

SMALL = DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16)


def test_one_logit_per_image_and_one_block_per_halving():
    torch.manual_seed(0)
    d = Discriminator(SMALL)
    assert d(torch.randn(8, 3, 16, 16)).shape == (8, 1)
    assert sum(isinstance(m, ResBlock) for m in d.convs) == 2  # 16 -> 8 -> 4
    assert d.final_linear[0].weight.shape == (SMALL.channels(4), SMALL.channels(4) * 16)


def test_a_wrong_size_or_a_batch_the_group_does_not_divide_is_refused():
    d = Discriminator(SMALL)
    with pytest.raises(ValueError, match=r"expected images \[N, 3, 16, 16\]"):
        d(torch.randn(4, 3, 32, 32))
    with pytest.raises(ValueError, match="not a multiple of the minibatch-stddev group 4"):
        d(torch.randn(6, 3, 16, 16))
    with pytest.raises(ValueError, match="power of two"):
        DiscriminatorConfig(resolution=24)


def test_minibatch_stddev_is_the_groups_spread_averaged():
    x = torch.randn(8, 5, 3, 3)
    out = minibatch_stddev(x, group=4)
    assert out.shape == (8, 6, 3, 3) and torch.equal(out[:, :5], x)
    groups = x.reshape(4, 2, 5, 3, 3)  # image i is in column i % 2
    expected = (groups.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    for i in range(8):
        assert torch.allclose(out[i, 5], expected[i % 2].expand(3, 3))
    same = minibatch_stddev(torch.ones(4, 2, 2, 2), group=4)[:, 2]
    assert torch.allclose(same, torch.full_like(same, 1e-4))  # no spread: sqrt(1e-8)


def test_equalised_convolution_scales_its_weight_by_the_fan_in():
    conv = EqualConv2d(4, 2, 3, padding=1)
    x = torch.randn(1, 4, 5, 5)
    plain = torch.nn.functional.conv2d(x, conv.weight / math.sqrt(4 * 9), conv.bias, padding=1)
    assert torch.allclose(conv(x), plain, atol=1e-6)


def test_a_downsampling_layer_halves_the_side_and_keeps_a_constant_image_constant():
    layer = ConvLayer(1, 1, 3, downsample=True, activate=False)
    with torch.no_grad():
        layer[1].weight.fill_(1.0)
    out = layer(torch.ones(1, 1, 8, 8))
    assert out.shape == (1, 1, 4, 4)
    assert torch.allclose(out[..., 1:-1, 1:-1], torch.full((1, 1, 2, 2), 3.0))  # 9 taps * 1/sqrt(9), inside


def test_weights_load_strictly_and_a_narrower_network_is_refused_by_name():
    a, b = Discriminator(SMALL), Discriminator(SMALL)
    load_strict(b, a.state_dict())
    x = torch.randn(4, 3, 16, 16)
    assert torch.equal(a(x), b(x))
    narrow = Discriminator(DiscriminatorConfig(resolution=16, channel_base=64, channel_max=8))
    with pytest.raises(WeightsMismatchError, match="shape mismatches"):
        load_strict(narrow, a.state_dict(), source="d.pt")
