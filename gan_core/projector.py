"""Batched W+ projection of aligned faces into a StyleGAN2 generator, with the study's early discard.

The study's encoder (rolux/stylegan2encoder) is NVIDIA's StyleGAN2 projector extended to W+: every face gets
its own ``[n_latent, 512]`` code, started at the mean W of 10,000 mapped samples, plus its own noise maps.
Each step renders the code (perturbed by Gaussian latent noise of ``std_W * 0.05 * max(0, 1 - t / 0.75)^2``),
box-downsamples the render to 256, and minimises LPIPS-VGG to the target plus ``1e5`` times the noise maps'
multi-scale autocorrelation; Adam at lr 0.1 with a 5 % linear warm-up and a 25 % cosine ramp-down; the noise
maps are re-normalised to zero mean and unit variance after every step.

Batching: the loss of a batch is the *sum* of the per-face losses, the generator and LPIPS act per sample, and
Adam is elementwise, so each face follows exactly the trajectory it would follow alone (per-face random
streams make the noise independent of the batch too). A face whose loss after ``discard_step`` steps is above
``discard_loss`` stops there and leaves the batch, so the remaining steps cost only the faces still worth it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from gan_core.perceptual import LPIPS, downsample_to
from gan_core.projector_config import ProjectorConfig
from gan_core.stylegan2 import Generator


@dataclass
class Projection:
    """The projection of one face.

    Attributes:
        discarded: stopped at ``discard_step`` because its loss was above the threshold.
        latent: ``[n_latent, style_dim]`` W+ code (None when discarded).
        noises: the optimised noise maps, each ``[1, r, r]`` (empty when discarded).
        image: ``[3, R, R]`` render of the code in [-1, 1] (None when discarded).
        losses: ``[steps run]`` total loss per step.
        lpips: LPIPS of the final render (of the last step's render when discarded).
    """

    discarded: bool
    latent: torch.Tensor | None
    noises: list[torch.Tensor]
    image: torch.Tensor | None
    losses: np.ndarray
    lpips: float
    steps_run: int = field(default=0)


def learning_rate(*, step: int, config: ProjectorConfig) -> float:
    """lr at ``step``: linear warm-up over ``lr_rampup``, cosine ramp-down over the last ``lr_rampdown``."""
    t = step / config.steps
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp *= min(1.0, t / config.lr_rampup)
    return config.lr * ramp


def latent_noise_scale(*, step: int, config: ProjectorConfig, w_std: float) -> float:
    """Std of the Gaussian noise added to the code at ``step``."""
    t = step / config.steps
    return w_std * config.noise_factor * max(0.0, 1.0 - t / config.noise_ramp) ** 2


def noise_regularizer(noises: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation (1-pixel shifts in x and y) of each map at every scale down to 8x8, per face.

    Shapes:
        noises: each ``[N, 1, r, r]`` -> ``[N]``.
    """
    total = 0
    for v in noises:
        while True:
            total = total + (v * v.roll(1, dims=3)).mean(dim=(1, 2, 3)).square()
            total = total + (v * v.roll(1, dims=2)).mean(dim=(1, 2, 3)).square()
            if v.shape[2] <= 8:
                break
            v = F.avg_pool2d(v, 2)
    return total


def _normalise(noises: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for v in noises:
            v -= v.mean(dim=(1, 2, 3), keepdim=True)
            v *= v.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()


class _Adam:
    """Adam (betas 0.9/0.999, eps 1e-8) over tensors whose rows (faces) can be dropped mid-run."""

    def __init__(self, params: list[torch.Tensor]):
        self.params = params
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.t += 1
        c1, c2 = 1 - 0.9**self.t, 1 - 0.999**self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            m.mul_(0.9).add_(p.grad, alpha=0.1)
            v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
            p.addcdiv_(m / c1, (v / c2).sqrt_().add_(1e-8), value=-lr)
            p.grad = None

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices along dim 0) of every parameter and moment."""
        self.params = [p.detach()[rows].requires_grad_(True) for p in self.params]
        self.m = [m[rows] for m in self.m]
        self.v = [v[rows] for v in self.v]


def _face_streams(seeds: list[int], device: torch.device, base: int) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(base * 1_000_003 + s) for s in seeds]


def _randn(streams: list[torch.Generator], shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.stack([torch.randn(shape, generator=g, device=device) for g in streams])


def project(
    *,
    generator: Generator,
    perceptual: LPIPS,
    targets: torch.Tensor,
    w_avg: torch.Tensor,
    w_std: float,
    config: ProjectorConfig,
    face_seeds: list[int] | None = None,
    amp: bool = False,
    on_step: Callable[[int, int], None] | None = None,
    on_result: Callable[[int, Projection], None] | None = None,
) -> list[Projection]:
    """Project a batch of aligned faces into W+.

    Args:
        generator: the (frozen) generator; its device is used.
        perceptual: LPIPS on the same device.
        targets: ``[N, 3, R, R]`` faces in [-1, 1] at the generator's resolution.
        w_avg: ``[style_dim]`` mean W (see :func:`gan_core.stylegan2.mean_w`).
        w_std: RMS spread of mapped W around ``w_avg``.
        config: schedule and loss.
        face_seeds: one integer per face for its random streams (default 0..N-1); the same face and seed give
            the same projection in any batch.
        amp: render and compare under bfloat16 autocast (CUDA only; the optimised tensors stay float32).
        on_step: called as ``on_step(step, faces_still_in_batch)`` after every step.
        on_result: called as ``on_result(input_index, projection)`` the moment a face is finished (discarded or
            done), so a caller can persist each face as soon as it exists.

    Returns:
        One :class:`Projection` per input face, in input order.
    """
    device = generator.input.input.device
    n, cfg = targets.shape[0], generator.config
    if targets.shape[1:] != (3, cfg.resolution, cfg.resolution):
        raise ValueError(f"targets must be [N, 3, {cfg.resolution}, {cfg.resolution}], got {tuple(targets.shape)}")
    streams = _face_streams(face_seeds if face_seeds is not None else list(range(n)), device, config.seed)
    use_amp = amp and device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
    with torch.no_grad(), autocast:
        target_feats = perceptual.features(downsample_to(targets.to(device), size=config.compare_size))
    target_feats = [f.float() for f in target_feats]
    latent = w_avg.to(device).float()[None, None].repeat(n, cfg.n_latent, 1)
    noises = [_randn(streams, (1, *shape), device) for shape in cfg.noise_shapes()]
    adam = _Adam([latent.requires_grad_(True), *[v.requires_grad_(True) for v in noises]])
    alive = list(range(n))  # input index of each batch row
    losses: list[list[float]] = [[] for _ in range(n)]
    results: dict[int, Projection] = {}
    for step in range(config.steps):
        w_opt, *maps = adam.params
        scale = latent_noise_scale(step=step, config=config, w_std=w_std)
        ws = w_opt + _randn([streams[i] for i in alive], tuple(w_opt.shape[1:]), device) * scale
        with autocast:
            render = generator.synthesis(ws, maps)
            feats = perceptual.features(downsample_to(render, size=config.compare_size))
        dist = perceptual.distance([f.float() for f in feats], target_feats)
        loss = dist.float() + config.regularize_noise_weight * noise_regularizer(maps)
        loss.sum().backward()
        adam.step(learning_rate(step=step, config=config))
        _normalise(adam.params[1:])
        for i, value in zip(alive, loss.detach().cpu().tolist(), strict=True):  # one device sync per step
            losses[i].append(value)
        if config.discard_loss is not None and step + 1 == config.discard_step:
            drop = [row for row, i in enumerate(alive) if losses[i][-1] > config.discard_loss]
            for row in drop:
                i = alive[row]
                results[i] = Projection(
                    discarded=True,
                    latent=None,
                    noises=[],
                    image=None,
                    losses=np.asarray(losses[i]),
                    lpips=float(dist[row].detach()),
                    steps_run=step + 1,
                )
                if on_result is not None:
                    on_result(i, results[i])
            if drop:
                keep = [row for row in range(len(alive)) if row not in drop]
                alive = [alive[row] for row in keep]
                if not alive:
                    break
                rows = torch.as_tensor(keep, device=device)
                adam.keep(rows)
                target_feats = [f[rows] for f in target_feats]
        if on_step is not None:
            on_step(step + 1, len(alive))
    if alive and len(results) < n:
        finished = _finish(generator, perceptual, adam.params, target_feats, alive, losses, config, autocast)
        for i in alive:
            results[i] = finished[i]
            if on_result is not None:
                on_result(i, finished[i])
    return [results[i] for i in range(n)]


def _finish(generator, perceptual, params, target_feats, alive, losses, config, autocast) -> dict[int, Projection]:
    """Render each kept face's final code (no latent noise) and score it."""
    w_opt, *maps = [p.detach() for p in params]
    with torch.no_grad(), autocast:
        image = generator.synthesis(w_opt, maps).float()
        feats = perceptual.features(downsample_to(image, size=config.compare_size))
    final = perceptual.distance([f.float() for f in feats], target_feats)
    return {
        i: Projection(
            discarded=False,
            latent=w_opt[row].cpu(),
            noises=[m[row].cpu() for m in maps],
            image=image[row].cpu(),
            losses=np.asarray(losses[i]),
            lpips=float(final[row]),
            steps_run=len(losses[i]),
        )
        for row, i in enumerate(alive)
    }
