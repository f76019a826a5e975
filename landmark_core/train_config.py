"""The training configuration: the network's shape, the loss, and the schedule (no torch needed to read it).

``TrainConfig`` is everything a training run depends on; it is saved as ``config.json`` and inside every
checkpoint, and validated (types and ranges) whenever it is read from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field

from landmark_core.sampler import AugmentConfig
from landmark_core.wflw import NUM_LANDMARKS


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters.

    Attributes:
        size: input side (128); must be divisible by 2 ** len(encoder_channels).
        stem_channels: channels of the full-resolution stem.
        encoder_channels: channels after each stride-2 step (the last is the bottleneck, 256).
        encoder_blocks: inverted-residual blocks after each step (more toward the bottleneck).
        decoder_channels: channels after each up step, bottleneck side first (the last is the 128x128 output).
        expansion: inverted-residual expansion factor (MobileNetV2: 6).
        stages: encoder-decoders in cascade (2).
        heatmap_drop: probability of dropping each stage-1 heatmap before stage 2, in training.
        num_landmarks: heatmaps per stage (98).
    """

    size: Annotated[int, Field(ge=8)] = 128
    stem_channels: Annotated[int, Field(ge=1)] = 16
    encoder_channels: tuple[Annotated[int, Field(ge=1)], ...] = (32, 64, 128, 256)
    encoder_blocks: tuple[Annotated[int, Field(ge=1)], ...] = (1, 2, 3, 4)
    decoder_channels: tuple[Annotated[int, Field(ge=1)], ...] = (128, 64, 32, 32)
    expansion: Annotated[int, Field(ge=1)] = 6
    stages: Annotated[int, Field(ge=1)] = 2
    heatmap_drop: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2
    num_landmarks: int = NUM_LANDMARKS

    def __post_init__(self) -> None:
        n = len(self.encoder_channels)
        if not (len(self.encoder_blocks) == len(self.decoder_channels) == n):
            raise ValueError("encoder_channels, encoder_blocks and decoder_channels need the same length")
        if self.size % (2**n):
            raise ValueError(f"size {self.size} is not divisible by 2**{n}")
        if self.stages < 1:
            raise ValueError("stages must be >= 1")


@dataclass(frozen=True)
class LossConfig:
    """Loss settings.

    Attributes:
        elt_lambda: weight of L_elt (0: the baseline; the study's best row: 0.25).
        elt_mode: ``heatmap`` (stop-gradient top-1 pseudo-targets, the study) or ``soft_l2``.
        sigma: target Gaussian sigma in heatmap pixels.
        elt_reference: with V >= 3 copies, what each copy is held consistent with: ``first`` (the study's pair
            term between the first copy and every other, averaged) or ``mean`` (the mean of the other copies);
            see ``landmark_core.losses.elt_loss``. Two copies give the study's term either way.
    """

    elt_lambda: Annotated[float, Field(ge=0)] = 0.0
    elt_mode: Literal["heatmap", "soft_l2"] = "heatmap"
    sigma: Annotated[float, Field(gt=0)] = 1.0
    elt_reference: Literal["first", "mean"] = "first"

    def __post_init__(self) -> None:
        if self.elt_mode not in ("heatmap", "soft_l2"):
            raise ValueError(f"elt_mode must be 'heatmap' or 'soft_l2', got {self.elt_mode!r}")
        if self.sigma <= 0 or self.elt_lambda < 0:
            raise ValueError("sigma must be > 0 and elt_lambda >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved as ``config.json`` and inside every checkpoint).

    ``lr_schedule``: ``plateau`` is the study's (decay by ``lr_factor`` after ``patience`` epochs without a
    better validation NME, stop at ``min_lr``); ``cosine`` anneals from ``lr`` to ``min_lr`` over exactly
    ``max_epochs`` epochs (a short, fixed budget such as the demo's, where a plateau never comes).
    ``max_steps``: when > 0, the run stops after that many optimizer steps in all (a fixed step budget, for
    smoke runs and benchmarks at scale; the epoch it ends in is validated and checkpointed as usual).
    ``labelled_fraction``: the share of the training faces (after the validation split) whose landmarks training
    sees; the others are unlabelled, chosen by ``landmark_core.labelled_split`` from the seed (1.0: all, the
    study). ``augmented_labelled``: whether the extra faces of a relit row keep their landmarks (the study) or join
    as unlabelled faces. Unlabelled faces reach the ELT term only; a row without one (``elt_lambda`` 0 or one
    view) leaves them out of training, so it trains on the labelled faces alone; with ``repeat_labelled`` it
    cycles through them until an epoch holds as many faces as all the training faces (the same optimizer steps as
    a row that also trains on the unlabelled faces: a control for the number of steps).
    ``decoding``: how validation and evaluation turn heatmaps into points: ``top1`` (the study's) or
    ``quarter_offset`` (a quarter pixel toward the higher neighbour; for the demo's coarse 48x48 heatmaps).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    seed: Annotated[int, Field(ge=0)] = 0
    batch_size: Annotated[int, Field(ge=1)] = 6
    lr: Annotated[float, Field(gt=0)] = 1e-3
    lr_schedule: Literal["plateau", "cosine"] = "plateau"
    decoding: Literal["top1", "quarter_offset"] = "top1"
    lr_factor: Annotated[float, Field(gt=0, lt=1)] = 0.1
    patience: Annotated[int, Field(ge=0)] = 30
    min_lr: Annotated[float, Field(ge=0)] = 1e-5
    max_epochs: Annotated[int, Field(ge=1)] = 1000
    max_steps: Annotated[int, Field(ge=0)] = 0
    labelled_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    augmented_labelled: bool = True
    repeat_labelled: bool = False
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    workers: Annotated[int, Field(ge=0)] = 0
    eval_batch_size: Annotated[int, Field(ge=1)] = 32

    def __post_init__(self) -> None:
        if self.model.size != self.augment.size:
            raise ValueError(f"model.size {self.model.size} != augment.size {self.augment.size}")
        if not 0 < self.val_fraction < 1:
            raise ValueError("val_fraction must be in (0, 1)")
        if not 0 < self.labelled_fraction <= 1:
            raise ValueError("labelled_fraction must be in (0, 1]")

    @property
    def uses_unlabelled(self) -> bool:
        """Whether unlabelled faces reach any loss term (the ELT term over two or more copies)."""
        return self.loss.elt_lambda > 0 and self.augment.views >= 2
