"""The study's augmentation settings and the step lists they give the multi-view sampler.

Two ELT configurations of the study (section 3.3):

* rotation-only ELT: step 1 = flip, occlusion, lighting, blur, translation r1, scale; step 2 = rotation + crop.
* rotation+translation ELT: the same with translation r2 moved into step 2 (r1 = 0, r2 = 0.05 in the best row).

Evaluation uses the crop alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from landmark_core.augment import (
    Crop,
    Flip,
    GaussianBlur,
    Light,
    Occlude,
    Rotate,
    Scale,
    Step,
    Translate,
)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation parameters (study defaults; probabilities the study leaves open are marked).

    Attributes:
        size: crop side in pixels (128).
        crop_factor: crop side = crop_factor * max(box w, h) (1.6).
        views: views per sample; 2 gives the ELT pair (two steps), 1 a single view through both steps.
        flip_p: mirror probability (0.5).
        r1: translation range of step 1, fraction of the box (0.05).
        r2: translation range of step 2 (0 for rotation-only ELT, 0.05 for rotation+translation).
        max_angle_deg: rotation alpha ~ U(-45, 45).
        scale: s ~ 1 + U(-0.15, 0.15).
        occlusion_p: probability of an occluder (our choice: 0.5); sides U(0.1, 0.4) of the box.
        lighting_p: probability of the HSV change (our choice: 0.5); each channel x U(0.5, 1.5).
        blur_p: probability of a Gaussian blur (our choice: 0.3); odd kernel in [3, blur_max_kernel].
        antialias: area-reduce the source before the warp when the crop shrinks it 2x or more. Off by default
            (a plain bilinear warp, as OpenCV-based pipelines do); costs about 1.3x in benchmarks/augment.py.
    """

    size: int = 128
    crop_factor: float = 1.6
    views: int = 2
    flip_p: float = 0.5
    r1: float = 0.05
    r2: float = 0.0
    max_angle_deg: float = 45.0
    scale: float = 0.15
    occlusion_p: float = 0.5
    occlusion_lo: float = 0.1
    occlusion_hi: float = 0.4
    lighting_p: float = 0.5
    lighting_lo: float = 0.5
    lighting_hi: float = 1.5
    blur_p: float = 0.3
    blur_max_kernel: int = 9
    antialias: bool = False

    def __post_init__(self) -> None:
        if self.views not in (1, 2):
            raise ValueError(f"views must be 1 or 2 (the study's two-step sampler), got {self.views}")
        if self.size < 8:
            raise ValueError(f"size must be >= 8, got {self.size}")


def rotation_elt() -> AugmentConfig:
    """The study's rotation-only ELT sampler (translation in step 1)."""
    return AugmentConfig(r1=0.05, r2=0.0)


def rotation_translation_elt() -> AugmentConfig:
    """The study's rotation+translation ELT sampler (translation moved to step 2: r1 0, r2 0.05)."""
    return AugmentConfig(r1=0.0, r2=0.05)


def train_steps(config: AugmentConfig) -> tuple[Step, ...]:
    """The sampler steps for training: len == config.views."""
    shared: Step = (
        Flip(p=config.flip_p),
        Occlude(p=config.occlusion_p, lo=config.occlusion_lo, hi=config.occlusion_hi),
        Light(p=config.lighting_p, lo=config.lighting_lo, hi=config.lighting_hi),
        GaussianBlur(p=config.blur_p, max_kernel=config.blur_max_kernel),
        Translate(r=config.r1),
        Scale(amount=config.scale),
    )
    per_view: Step = (
        Rotate(max_deg=config.max_angle_deg),
        Translate(r=config.r2),
        Crop(size=config.size, factor=config.crop_factor),
    )
    if config.views == 1:
        return (shared + per_view,)
    return (shared, per_view)


def eval_steps(config: AugmentConfig) -> tuple[Step, ...]:
    """The sampler steps for evaluation: the crop alone, one view."""
    return ((Crop(size=config.size, factor=config.crop_factor),),)
