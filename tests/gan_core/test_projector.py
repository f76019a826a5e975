"""The projector: schedule, regulariser, convergence, batch independence, early discard."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from gan_core.perceptual import LPIPS, TINY_PERCEPTUAL
from gan_core.projector import has_flattened, latent_noise_scale, learning_rate, noise_regularizer, project
from gan_core.projector_config import ProjectorConfig
from gan_core.stylegan2 import Generator, mean_w
from gan_core.stylegan2_config import TINY


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    g = Generator(TINY).eval().requires_grad_(False)
    p = LPIPS(TINY_PERCEPTUAL)
    w_avg, w_std = mean_w(generator=g, n_samples=1000)
    with torch.no_grad():
        targets = g(torch.randn(3, TINY.style_dim)).clamp(-1, 1)
    return g, p, w_avg, w_std, targets


def test_learning_rate_schedule():
    c = ProjectorConfig()
    assert learning_rate(step=0, config=c) == 0.0
    assert learning_rate(step=25, config=c) == pytest.approx(0.05)  # half-way up the 5 % warm-up
    assert learning_rate(step=50, config=c) == pytest.approx(0.1)
    assert learning_rate(step=500, config=c) == pytest.approx(0.1)
    assert learning_rate(step=875, config=c) == pytest.approx(0.05)  # half-way down the 25 % cosine ramp
    assert learning_rate(step=999, config=c) == pytest.approx(0.1 * (0.5 - 0.5 * math.cos(math.pi * 0.004)))


def test_latent_noise_decays_quadratically_to_zero_at_75_percent():
    c = ProjectorConfig()
    assert latent_noise_scale(step=0, config=c, w_std=2.0) == pytest.approx(0.1)
    assert latent_noise_scale(step=375, config=c, w_std=2.0) == pytest.approx(0.1 * 0.25)
    assert latent_noise_scale(step=750, config=c, w_std=2.0) == 0.0
    assert latent_noise_scale(step=900, config=c, w_std=2.0) == 0.0


def test_noise_regulariser_values():
    flat = torch.ones(2, 1, 16, 16)
    # a constant map correlates perfectly with its shifts at 16 and 8: 2 scales x 2 directions x 1^2
    assert torch.allclose(noise_regularizer([flat]), torch.full((2,), 4.0))
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 2.0 - 1  # anti-correlated: (-1)^2 twice
    assert torch.allclose(noise_regularizer([checker[None, None]]), torch.tensor([2.0]))
    white = torch.randn(1, 1, 256, 256, generator=torch.Generator().manual_seed(0))
    assert noise_regularizer([white]) < 1e-3


def test_projection_reduces_the_loss_and_returns_everything(nets):
    g, p, w_avg, w_std, targets = nets
    out = project(
        generator=g, perceptual=p, targets=targets, w_avg=w_avg, w_std=w_std, config=ProjectorConfig(steps=80)
    )
    for i, r in enumerate(out):
        assert not r.discarded and r.steps_run == 80 and r.losses.shape == (80,)
        assert r.losses[-1] < r.losses[0] / 100
        assert r.latent.shape == (TINY.n_latent, TINY.style_dim) and r.image.shape == (3, 32, 32)
        assert [tuple(n.shape[1:]) for n in r.noises] == TINY.noise_shapes()
        for n in r.noises:  # re-normalised after every step
            assert abs(float(n.mean())) < 1e-4 and float(n.square().mean()) == pytest.approx(1.0, rel=1e-4)
        with torch.no_grad():
            again = g.synthesis(r.latent[None], [n[None] for n in r.noises])[0]
        assert torch.allclose(again, r.image, atol=1e-5)
        assert float(p(r.image[None], targets[i][None])) == pytest.approx(r.lpips, rel=1e-4)


def test_a_face_projects_the_same_alone_or_in_a_batch(nets):
    g, p, w_avg, w_std, targets = nets
    config = ProjectorConfig(steps=10)
    batch = project(
        generator=g, perceptual=p, targets=targets, w_avg=w_avg, w_std=w_std, config=config, face_seeds=[7, 8, 9]
    )
    alone = project(
        generator=g, perceptual=p, targets=targets[1:2], w_avg=w_avg, w_std=w_std, config=config, face_seeds=[8]
    )[0]
    assert torch.allclose(alone.latent, batch[1].latent, atol=1e-3)
    np.testing.assert_allclose(alone.losses, batch[1].losses, rtol=1e-3)
    other_seed = project(
        generator=g, perceptual=p, targets=targets[1:2], w_avg=w_avg, w_std=w_std, config=config, face_seeds=[99]
    )[0]
    assert not torch.allclose(other_seed.latent, batch[1].latent, atol=1e-3)


def test_early_discard_stops_faces_above_the_threshold_and_spares_the_others(nets):
    g, p, w_avg, w_std, targets = nets
    base = ProjectorConfig(steps=40, discard_step=15)
    full = project(generator=g, perceptual=p, targets=targets, w_avg=w_avg, w_std=w_std, config=base)
    at_check = [r.losses[14] for r in full]
    threshold = float(np.median(at_check))
    finished, active = [], []
    config = ProjectorConfig(steps=40, discard_step=15, discard_loss=threshold)
    out = project(
        generator=g,
        perceptual=p,
        targets=targets,
        w_avg=w_avg,
        w_std=w_std,
        config=config,
        on_result=lambda i, r: finished.append((i, r.steps_run)),
        on_step=lambda s, n: active.append(n),
    )
    for r, before, loss in zip(out, full, at_check, strict=True):
        if loss > threshold:
            assert r.discarded and r.latent is None and r.image is None and r.steps_run == 15
            assert len(r.losses) == 15
        else:
            assert not r.discarded and r.steps_run == 40
            assert torch.allclose(r.latent, before.latent, atol=1e-4)  # leaving the batch changes nothing
    assert sum(r.discarded for r in out) == 1
    assert active[13] == 3 and active[15] == 2 and len(active) == 40
    assert sorted(finished) == sorted((i, r.steps_run) for i, r in enumerate(out))
    assert [s for _, s in finished][0] == 15  # the discarded face is reported the moment it stops


def test_everything_discarded_stops_early(nets):
    g, p, w_avg, w_std, targets = nets
    config = ProjectorConfig(steps=50, discard_step=5, discard_loss=-1.0)
    steps = []
    out = project(
        generator=g,
        perceptual=p,
        targets=targets,
        w_avg=w_avg,
        w_std=w_std,
        config=config,
        on_step=lambda s, n: steps.append(s),
    )
    assert all(r.discarded for r in out) and max(steps) == 4


def test_rejects_targets_of_the_wrong_size(nets):
    g, p, w_avg, w_std, _ = nets
    with pytest.raises(ValueError, match="targets must be"):
        project(
            generator=g,
            perceptual=p,
            targets=torch.zeros(1, 3, 64, 64),
            w_avg=w_avg,
            w_std=w_std,
            config=ProjectorConfig(steps=1),
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_amp_on_cuda_tracks_the_float32_projection(nets):
    g, p, w_avg, w_std, targets = nets
    g, p = g.cuda(), p.cuda()
    try:
        config = ProjectorConfig(steps=40)
        full = project(generator=g, perceptual=p, targets=targets.cuda(), w_avg=w_avg, w_std=w_std, config=config)
        amp = project(
            generator=g, perceptual=p, targets=targets.cuda(), w_avg=w_avg, w_std=w_std, config=config, amp=True
        )
    finally:
        g.cpu(), p.cpu()
    for a, b in zip(amp, full, strict=True):
        assert a.losses[-1] < a.losses[0] / 100
        assert a.lpips == pytest.approx(b.lpips, rel=0.3, abs=0.02)


def _run(nets, config, **kwargs):
    g, p, w_avg, w_std, targets = nets
    return project(generator=g, perceptual=p, targets=targets, w_avg=w_avg, w_std=w_std, config=config, **kwargs)


def test_the_mean_start_gives_what_the_study_s_recipe_gave_before_stopping_and_encoders_existed(nets):
    """Numbers the projector gave before ``init`` and per-face stopping were added (same seeds and shapes; 4
    steps, so that another thread count or CPU, which changes the last bits of a sum, cannot grow them)."""
    out = _run(nets, ProjectorConfig(steps=4, discard_step=10, compare_size=32))
    assert [float(r.losses[-1]) for r in out] == pytest.approx([5223.537109, 2099.685547, 5044.833984], rel=1e-5)
    assert [r.lpips for r in out] == pytest.approx([0.283116, 0.273523, 0.177283], rel=1e-4)
    assert [float(r.latent.sum()) for r in out] == pytest.approx([120.64613, 120.48464, 121.79604], rel=1e-6)
    assert all(r.steps_run == 4 and not r.stopped for r in out)


def test_every_render_and_backward_pass_is_counted(nets):
    config = ProjectorConfig(steps=12, discard_step=5, discard_loss=-1.0, compare_size=32)
    discarded = _run(nets, config)
    assert all((r.forwards, r.backwards, r.steps_run) == (5, 5, 5) for r in discarded)  # no final render
    kept = _run(nets, dataclasses.replace(config, discard_loss=None))
    assert all((r.forwards, r.backwards) == (13, 12) for r in kept)  # 12 steps and the final render


def test_a_face_whose_loss_is_flat_stops_and_one_that_improves_goes_on():
    losses = [10.0] * 8
    assert has_flattened(losses, window=4, tolerance=0.01)
    assert not has_flattened([10.0 - 0.5 * k for k in range(8)], window=4, tolerance=0.01)
    assert not has_flattened(losses[:7], window=4, tolerance=0.01)  # not two windows yet
    assert not has_flattened(losses, window=0, tolerance=0.5)  # 0: never


def test_per_face_stopping_freezes_a_face_and_leaves_the_others_as_they_would_be(nets):
    g, p, w_avg, w_std, targets = nets
    config = ProjectorConfig(steps=40, discard_step=5, compare_size=32, stop_window=3, stop_tolerance=0.9)
    seen = []
    out = _run(nets, config, on_step=lambda step, alive: seen.append(alive))
    stopped = [r for r in out if r.stopped]
    assert stopped and all(r.steps_run < 40 and r.forwards == r.steps_run + 1 for r in stopped)
    for r in stopped:  # the frozen code is the one rendered and scored when it stopped
        with torch.no_grad():
            again = g.synthesis(r.latent[None], [m[None] for m in r.noises])[0]
        assert torch.allclose(again, r.image, atol=1e-5)
    assert seen == sorted(seen, reverse=True) and min(seen) >= 1  # the batch only shrinks
    alone = _run(nets, dataclasses.replace(config, stop_window=0))  # the faces that never stopped: unchanged
    for r, a in zip(out, alone, strict=True):
        if not r.stopped:
            assert torch.equal(r.latent, a.latent) and np.array_equal(r.losses, a.losses)


def test_a_face_stops_no_sooner_than_the_discard_check_has_judged_it(nets):
    config = ProjectorConfig(steps=40, discard_step=5, compare_size=32, stop_window=3, stop_tolerance=0.9)
    assert all(r.stopped and r.steps_run == 6 for r in _run(nets, config))  # flat by step 6 without a discard
    judged = dataclasses.replace(config, discard_step=10, discard_loss=1e9)
    assert all(r.stopped and r.steps_run == 10 for r in _run(nets, judged))  # kept at 10, stopped there
    strict = dataclasses.replace(judged, discard_loss=-1.0)
    assert all(r.discarded and r.steps_run == 10 for r in _run(nets, strict))  # discarded, not kept at step 6


def test_a_flat_face_ramps_down_before_it_is_frozen_and_the_others_are_untouched(nets):
    g, p, w_avg, w_std, targets = nets
    config = ProjectorConfig(steps=20, discard_step=5, compare_size=32, stop_window=5, stop_tolerance=0.01)
    at_once = _run(nets, config)  # the first face is found flat at step 12, the others never
    ramped = _run(nets, dataclasses.replace(config, stop_rampdown=4))
    for now, late in zip(at_once, ramped, strict=True):
        if now.stopped:  # found flat at the same step, then 4 more steps at falling rates without latent noise
            assert late.steps_run == now.steps_run + 4 and late.forwards == late.steps_run + 1
            np.testing.assert_array_equal(late.losses[: now.steps_run], now.losses)
            assert not torch.equal(late.latent, now.latent)
        else:  # bit for bit what it was
            assert torch.equal(late.latent, now.latent) and np.array_equal(late.losses, now.losses)
    assert any(r.stopped for r in at_once) and not all(r.stopped for r in at_once)


def test_the_ramp_down_rates_fall_to_zero_and_silence_the_latent_noise():
    from gan_core.projector import _Run

    run = _Run(adam=None, alive=[0, 1, 2], target_feats=[torch.zeros(3, 1)], n=3)
    assert run.scales(0.5, 4) == (0.5, None)  # no face ramping: plain numbers, the old arithmetic
    run.ramping = {1: 4}
    noise, rates = run.scales(0.5, 4)
    assert noise.flatten().tolist() == [0.5, 0.0, 0.5] and rates[0] == rates[2] == 1.0
    falling = []
    for left in (4, 3, 2, 1):
        run.ramping = {1: left}
        falling.append(run.scales(0.5, 4)[1][1])
    assert falling == sorted(falling, reverse=True) and 0.9 < falling[0] < 1.0 and 0.0 < falling[-1] < 0.1


def test_an_encoder_start_is_used_and_must_match_the_setting(nets):
    g, p, w_avg, w_std, targets = nets
    start = w_avg[None, None].repeat(3, g.config.n_latent, 1) + 0.1 * torch.randn(3, g.config.n_latent, 1)
    config = ProjectorConfig(steps=1, discard_step=5, compare_size=32, lr=1e-9, noise_factor=0.0)
    out = _run(nets, dataclasses.replace(config, init="encoder"), start=start)
    assert all(torch.allclose(r.latent, s, atol=1e-6) for r, s in zip(out, start, strict=True))
    with pytest.raises(ValueError, match="encoder"):
        _run(nets, config, start=start)  # init "mean" with codes given
    with pytest.raises(ValueError, match="encoder"):
        _run(nets, dataclasses.replace(config, init="encoder"))  # no codes
    with pytest.raises(ValueError, match="start must be"):
        _run(nets, dataclasses.replace(config, init="encoder"), start=start[:, :2])
