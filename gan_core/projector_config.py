"""The W+ projector's schedule, loss weights and early discard (no torch needed to read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field


@dataclass(frozen=True)
class ProjectorConfig:
    """The projector's schedule and loss (defaults: the study's / NVIDIA's values).

    Attributes:
        steps: optimisation steps per face.
        w_avg_samples: mapped samples for the mean W and its spread.
        lr: peak Adam learning rate.
        lr_rampup: fraction of the steps of linear warm-up.
        lr_rampdown: fraction of the steps of cosine ramp-down at the end.
        noise_factor: latent noise std as a fraction of the W spread, at step 0.
        noise_ramp: fraction of the steps after which the latent noise is zero (it decays quadratically).
        regularize_noise_weight: weight of the noise-map autocorrelation penalty.
        discard_step: step after which a face may be discarded.
        discard_loss: a face whose total loss at ``discard_step`` is above this stops; None keeps every face.
        compare_size: side the render and the target are box-downsampled to before LPIPS.
        seed: base of the per-face random streams (latent noise, initial noise maps).
        init: where each face's code starts: ``mean`` (the study's: the mean W) or ``encoder`` (a W+ encoder's
            code of the face, given by the caller).
        stop_window: per-face stopping: a face stops once the mean loss of its last ``stop_window`` steps is
            less than ``stop_tolerance`` (relative) below the mean of the window before; 0 never stops a face
            before ``steps``.
        stop_tolerance: the relative improvement per window below which a face stops.
        stop_rampdown: steps a face found flat still runs before it is frozen, its learning rate ramping down to
            zero (a cosine, as the schedule's own ramp-down) and its latent noise off, so the code it keeps is
            the settled one and not one of Adam's full-rate steps; 0 freezes it at once.

    The last four are left out of a stage's key while they hold their defaults (the study's recipe), so adding
    them re-keyed nothing.
    """

    steps: Annotated[int, Field(ge=1)] = 1000
    w_avg_samples: Annotated[int, Field(ge=1)] = 10_000
    lr: Annotated[float, Field(gt=0.0)] = 0.1
    lr_rampup: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    lr_rampdown: Annotated[float, Field(ge=0.0, le=1.0)] = 0.25
    noise_factor: Annotated[float, Field(ge=0.0)] = 0.05
    noise_ramp: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    regularize_noise_weight: Annotated[float, Field(ge=0.0)] = 1e5
    discard_step: Annotated[int, Field(ge=0)] = 100
    discard_loss: float | None = None
    compare_size: Annotated[int, Field(ge=8)] = 256
    seed: Annotated[int, Field(ge=0)] = 303
    init: Literal["mean", "encoder"] = field(default="mean", metadata={"key": "unless_default"})
    stop_window: Annotated[int, Field(ge=0)] = field(default=0, metadata={"key": "unless_default"})
    stop_tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = field(default=0.01, metadata={"key": "unless_default"})
    stop_rampdown: Annotated[int, Field(ge=0)] = field(default=0, metadata={"key": "unless_default"})
