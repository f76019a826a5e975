import torch

from gan_core.upfirdn import make_filter, upfirdn2d, upsample2d


def test_filter_is_normalised_binomial():
    f = make_filter(gain=4.0)
    assert f.shape == (4, 4)
    assert torch.isclose(f.sum(), torch.tensor(4.0))
    assert torch.allclose(f, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 16)


def test_upsample_doubles_and_keeps_dc_level_inside():
    x = torch.full((2, 3, 8, 8), 0.7)
    y = upsample2d(x, make_filter(gain=4.0))
    assert y.shape == (2, 3, 16, 16)
    assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.full_like(y[:, :, 2:-2, 2:-2], 0.7), atol=1e-6)


def test_upfirdn_matches_explicit_zero_insertion_and_convolution():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 5, 5)
    f = torch.rand(3, 3)
    y = upfirdn2d(x, f, up=2, pad=(1, 1, 1, 1))
    z = torch.zeros(1, 2, 10, 10)
    z[:, :, ::2, ::2] = x
    z = torch.nn.functional.pad(z, (1, 1, 1, 1))
    expected = torch.nn.functional.conv2d(z, f.flip([0, 1])[None, None].expand(2, 1, 3, 3), groups=2)
    assert torch.allclose(y, expected, atol=1e-6)


def test_negative_pad_crops_and_down_strides():
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    one = torch.ones(1, 1)
    assert torch.equal(upfirdn2d(x, one, pad=(-1, -1, -2, 0)), x[:, :, 2:, 1:-1])
    assert torch.equal(upfirdn2d(x, one, down=2), x[:, :, ::2, ::2])
