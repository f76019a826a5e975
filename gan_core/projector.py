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

Two cuts of the cost, neither of which changes what a projection is: a face can start from a W+ encoder's
code of it instead of the mean W (``init = "encoder"``: the caller passes the codes), and a face whose loss has
stopped improving (``stop_window``, ``stop_tolerance``) is finished there and leaves the batch with its code
frozen (after ``stop_rampdown`` steps of falling learning rate, when set); with an early discard, a face stops no
sooner than the discard check has judged it. Every face's generator evaluations (forward renders, backward
passes) are counted as they happen, a figure that is the same on any hardware.
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
        steps_run: optimisation steps the face took.
        forwards, backwards: the generator's forward renders and backward passes spent on the face.
        stopped: finished by per-face stopping before ``steps``.
    """

    discarded: bool
    latent: torch.Tensor | None
    noises: list[torch.Tensor]
    image: torch.Tensor | None
    losses: np.ndarray
    lpips: float
    steps_run: int = field(default=0)
    forwards: int = field(default=0)
    backwards: int = field(default=0)
    stopped: bool = field(default=False)


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
    def step(self, lr: float, rates: list[float] | None = None) -> None:
        """One step at ``lr``, each row's scaled by its factor in ``rates`` when given: the whole tensor moves at
        ``lr`` as always, then the rows at another factor are stepped again from where they were (the update is
        elementwise, so a row at factor 1 moves exactly as in a step without factors)."""
        self.t += 1
        c1, c2 = 1 - 0.9**self.t, 1 - 0.999**self.t
        slower = [(row, rate) for row, rate in enumerate(rates or []) if rate != 1.0]
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            m.mul_(0.9).add_(p.grad, alpha=0.1)
            v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
            step, denom = m / c1, (v / c2).sqrt_().add_(1e-8)
            before = [p[row].clone() for row, _ in slower]
            p.addcdiv_(step, denom, value=-lr)
            for (row, rate), start in zip(slower, before, strict=True):
                p[row].copy_(start.addcdiv_(step[row], denom[row], value=-lr * rate))
            p.grad = None

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices along dim 0) of every parameter and moment."""
        self.params = [p.detach()[rows].requires_grad_(True) for p in self.params]
        self.m = [m[rows] for m in self.m]
        self.v = [v[rows] for v in self.v]


def has_flattened(losses: list[float], *, window: int, tolerance: float) -> bool:
    """Whether the mean of the last ``window`` losses is less than ``tolerance`` (relative) below the mean of
    the ``window`` before (never before ``2 * window`` steps; never with ``window`` 0)."""
    if window == 0 or len(losses) < 2 * window:
        return False
    before = sum(losses[-2 * window : -window]) / window
    after = sum(losses[-window:]) / window
    return before - after < tolerance * abs(before)


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
    start: torch.Tensor | None = None,
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
        start: ``[N, n_latent, style_dim]`` the faces' starting codes, with ``config.init == "encoder"`` (and
            only then).

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
    latent = _start(start, w_avg=w_avg, n=n, cfg=cfg, config=config).to(device)
    noises = [_randn(streams, (1, *shape), device) for shape in cfg.noise_shapes()]
    run = _Run(
        adam=_Adam([latent.requires_grad_(True), *[v.requires_grad_(True) for v in noises]]),
        alive=list(range(n)),
        target_feats=target_feats,
        n=n,
    )
    finish = lambda rows: _finish(generator, perceptual, run, rows, config, autocast)  # noqa: E731
    for step in range(config.steps):
        w_opt, *maps = run.adam.params
        scale, rates = run.scales(latent_noise_scale(step=step, config=config, w_std=w_std), config.stop_rampdown)
        ws = w_opt + _randn([streams[i] for i in run.alive], tuple(w_opt.shape[1:]), device) * scale
        with autocast:
            render = generator.synthesis(ws, maps)
            feats = perceptual.features(downsample_to(render, size=config.compare_size))
        dist = perceptual.distance([f.float() for f in feats], run.target_feats)
        loss = dist.float() + config.regularize_noise_weight * noise_regularizer(maps)
        loss.sum().backward()
        run.adam.step(learning_rate(step=step, config=config), rates)
        _normalise(run.adam.params[1:])
        for i, value in zip(run.alive, loss.detach().cpu().tolist(), strict=True):  # one device sync per step
            run.losses[i].append(value)
            run.forwards[i] += 1
            run.backwards[i] += 1
        if config.discard_loss is not None and step + 1 == config.discard_step:
            drop = [row for row, i in enumerate(run.alive) if run.losses[i][-1] > config.discard_loss]
            run.settle(
                {run.alive[row]: run.discarded(run.alive[row], float(dist[row].detach())) for row in drop}, on_result
            )
        judged = config.discard_loss is None or step + 1 >= config.discard_step  # past the discard check
        if step + 1 < config.steps and run.alive and judged:
            done = run.settled(config)
            if done:
                run.settle(finish(done), on_result)
        if not run.alive:
            break
        if on_step is not None:
            on_step(step + 1, len(run.alive))
    if run.alive:
        run.settle(finish(list(range(len(run.alive)))), on_result)
    return [run.results[i] for i in range(n)]


def _start(start: torch.Tensor | None, *, w_avg: torch.Tensor, n: int, cfg, config: ProjectorConfig) -> torch.Tensor:
    """The faces' first codes: the mean W on every row, or the given (encoder) codes."""
    if (start is not None) != (config.init == "encoder"):
        raise ValueError(f'init = "{config.init}": starting codes are given with "encoder" and only then')
    if start is None:
        return w_avg.float()[None, None].repeat(n, cfg.n_latent, 1)
    if start.shape != (n, cfg.n_latent, cfg.style_dim):
        raise ValueError(f"start must be [{n}, {cfg.n_latent}, {cfg.style_dim}], got {tuple(start.shape)}")
    return start.detach().float().clone()


@dataclass
class _Run:
    """The faces still in the batch, their optimiser state and what is known of every face so far."""

    adam: _Adam
    alive: list[int]  # input index of each batch row
    target_feats: list[torch.Tensor]
    n: int
    losses: dict[int, list[float]] = field(default_factory=dict)
    forwards: dict[int, int] = field(default_factory=dict)
    backwards: dict[int, int] = field(default_factory=dict)
    results: dict[int, Projection] = field(default_factory=dict)
    ramping: dict[int, int] = field(default_factory=dict)  # input index -> ramp-down steps left

    def __post_init__(self) -> None:
        for i in range(self.n):
            self.losses[i], self.forwards[i], self.backwards[i] = [], 0, 0

    def scales(self, noise: float, rampdown: int) -> tuple[float | torch.Tensor, list[float] | None]:
        """This step's latent-noise scale (``[N, 1, 1]`` per row while a face ramps down: 0 for it) and per-row
        learning-rate factors (None while no face ramps down: the run computes exactly what it always did)."""
        if not self.ramping:
            return noise, None
        left = [self.ramping.get(i) for i in self.alive]
        rates = [1.0 if k is None else 0.5 - 0.5 * math.cos(math.pi * k / (rampdown + 1)) for k in left]
        noise_rows = torch.tensor([noise if k is None else 0.0 for k in left], device=self.target_feats[0].device)
        return noise_rows.view(-1, 1, 1), rates

    def settled(self, config: ProjectorConfig) -> list[int]:
        """Count down the faces ramping down, start the ramp of the faces just found flat, and return the batch
        rows of the faces finished now (flat with no ramp-down, or at the end of their ramp)."""
        done = []
        for row, i in enumerate(self.alive):
            if i in self.ramping:
                self.ramping[i] -= 1
                if self.ramping[i] == 0:
                    del self.ramping[i]
                    done.append(row)
            elif has_flattened(self.losses[i], window=config.stop_window, tolerance=config.stop_tolerance):
                if config.stop_rampdown == 0:
                    done.append(row)
                else:
                    self.ramping[i] = config.stop_rampdown
        return done

    def discarded(self, i: int, dist: float) -> Projection:
        """Face ``i``'s result when the early-discard check stops it."""
        steps = len(self.losses[i])
        return Projection(
            discarded=True,
            latent=None,
            noises=[],
            image=None,
            losses=np.asarray(self.losses[i]),
            lpips=dist,
            steps_run=steps,
            forwards=self.forwards[i],
            backwards=self.backwards[i],
        )

    def settle(self, done: dict[int, Projection], on_result) -> None:
        """Record finished faces and take them out of the batch (their codes stay as they are)."""
        for i, result in done.items():
            self.results[i] = result
            if on_result is not None:
                on_result(i, result)
        if not done:
            return
        keep = [row for row, i in enumerate(self.alive) if i not in done]
        self.alive = [self.alive[row] for row in keep]
        if self.alive:
            rows = torch.as_tensor(keep, device=self.target_feats[0].device)
            self.adam.keep(rows)
            self.target_feats = [f[rows] for f in self.target_feats]


def _finish(generator, perceptual, run: _Run, rows: list[int], config, autocast) -> dict[int, Projection]:
    """Render the final code (no latent noise) of the faces in batch ``rows`` and score it."""
    w_opt, *maps = [p.detach()[rows] for p in run.adam.params]
    with torch.no_grad(), autocast:
        image = generator.synthesis(w_opt, maps).float()
        feats = perceptual.features(downsample_to(image, size=config.compare_size))
    final = perceptual.distance([f.float() for f in feats], [f[rows] for f in run.target_feats])
    done = {}
    for k, row in enumerate(rows):
        i = run.alive[row]
        run.forwards[i] += 1
        steps = len(run.losses[i])
        done[i] = Projection(
            discarded=False,
            latent=w_opt[k].cpu(),
            noises=[m[k].cpu() for m in maps],
            image=image[k].cpu(),
            losses=np.asarray(run.losses[i]),
            lpips=float(final[k]),
            steps_run=steps,
            forwards=run.forwards[i],
            backwards=run.backwards[i],
            stopped=steps < config.steps,
        )
    return done
