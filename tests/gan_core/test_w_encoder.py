"""The W+ encoder: its shape for a generator, its start at one W per face around the mean W, and its checks."""

from __future__ import annotations

import pytest
import torch

from gan_core.w_encoder import EncoderConfig, WEncoder, encoder_for

SMALL = EncoderConfig(resolution=16, n_latent=6, style_dim=8, channels=4, max_channels=8, hidden=16)


def test_the_code_has_every_w_plus_row_and_starts_as_one_w_per_face_around_the_mean():
    torch.manual_seed(0)
    w_avg = torch.arange(8, dtype=torch.float32)
    encoder = encoder_for(config=SMALL, w_avg=w_avg, seed=0)
    torch.manual_seed(99)  # whatever is drawn before, the same seed gives the same weights
    again = encoder_for(config=SMALL, w_avg=w_avg, seed=0)
    assert all(
        torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), again.state_dict().values(), strict=True)
    )
    codes, offsets = encoder(torch.rand(3, 3, 16, 16) * 2 - 1)
    assert codes.shape == offsets.shape == (3, 6, 8)
    assert torch.equal(offsets, torch.zeros_like(offsets))  # e4e's start: no per-row offsets yet
    assert torch.equal(codes[:, :1].expand(-1, 6, -1), codes)  # so every row holds the face's one W
    with torch.no_grad():
        encoder.base.weight.zero_(), encoder.base.bias.zero_()
    assert torch.equal(encoder(torch.zeros(1, 3, 16, 16))[0][0, 0], w_avg)  # centred on the mean W


def test_the_encoder_refuses_pictures_of_another_size_and_a_side_that_is_no_power_of_two():
    with pytest.raises(ValueError, match="images must be"):
        WEncoder(SMALL)(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="power of two"):
        EncoderConfig(resolution=48)
