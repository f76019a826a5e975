"""The study's augmentation settings and the step lists they give the multi-view sampler.

Two ELT configurations of the study (section 3.3):

* rotation-only ELT: step 1 = flip, occlusion, lighting, blur, translation r1, scale; step 2 = rotation + crop.
* rotation+translation ELT: the same with translation r2 moved into step 2 (r1 = 0, r2 = 0.05 in the best row).

Beyond the study (its future work, section 5.1): the copies can also differ by a colour change, a contrast change
and an occlusion drawn per copy in step 2 (``copy_lighting_p``, ``copy_contrast_p``, ``copy_occlusion_p``; none
moves a landmark, so the ELT term is invariant to them while it stays equivariant to the geometry), and a sample
can have V >= 3 copies that share step 1 and each draw their own step 2 (``views``; ``train_copies``).

Evaluation uses the crop alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from landmark_core.augment import (
    Contrast,
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

MAX_VIEWS = 8


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation parameters (study defaults; probabilities the study leaves open are marked).

    Attributes:
        size: crop side in pixels (128).
        crop_factor: crop side = crop_factor * max(box w, h) (1.6).
        views: views per sample; 2 gives the ELT pair (two steps), 1 a single view through both steps, V >= 3
            copies that share step 1 and each draw their own step 2 (beyond the study).
        flip_p: mirror probability (0.5).
        r1: translation range of step 1, fraction of the box (0.05).
        r2: translation range of step 2 (0 for rotation-only ELT, 0.05 for rotation+translation).
        max_angle_deg: rotation alpha ~ U(-45, 45).
        scale: s ~ 1 + U(-0.15, 0.15).
        occlusion_p: probability of an occluder (our choice: 0.5); sides U(0.1, 0.4) of the box.
        lighting_p: probability of the HSV change (our choice: 0.5); each channel x U(0.5, 1.5).
        blur_p: probability of a Gaussian blur (our choice: 0.3); odd kernel in [3, blur_max_kernel].
        copy_lighting_p: probability of an HSV change drawn per copy in step 2 (lighting_lo/hi; beyond the
            study, 0: the study's copies differ in geometry only).
        copy_contrast_p: probability of a contrast change drawn per copy in step 2 (contrast_lo/hi).
        copy_occlusion_p: probability of an occluder drawn per copy in step 2 (occlusion_lo/hi).
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
    copy_lighting_p: float = 0.0
    copy_contrast_p: float = 0.0
    contrast_lo: float = 0.6
    contrast_hi: float = 1.4
    copy_occlusion_p: float = 0.0
    antialias: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.views <= MAX_VIEWS:
            raise ValueError(f"views must be 1 to {MAX_VIEWS} (2: the study's two-step pair), got {self.views}")
        for name in ("copy_lighting_p", "copy_contrast_p", "copy_occlusion_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.views == 1 and (self.copy_lighting_p or self.copy_contrast_p or self.copy_occlusion_p):
            raise ValueError("copy_*_p need views >= 2: a single view has no copies to differ")
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
        *_per_copy(config),
        Crop(size=config.size, factor=config.crop_factor),
    )
    if config.views == 1:
        return (shared + per_view,)
    return (shared, per_view)


def _per_copy(config: AugmentConfig) -> Step:
    """The photometric and occlusion changes each copy draws on its own (only those switched on, so a config
    without them draws exactly the study's random numbers)."""
    out: Step = ()
    if config.copy_occlusion_p:
        out += (Occlude(p=config.copy_occlusion_p, lo=config.occlusion_lo, hi=config.occlusion_hi),)
    if config.copy_lighting_p:
        out += (Light(p=config.copy_lighting_p, lo=config.lighting_lo, hi=config.lighting_hi),)
    if config.copy_contrast_p:
        out += (Contrast(p=config.copy_contrast_p, lo=config.contrast_lo, hi=config.contrast_hi),)
    return out


def train_copies(config: AugmentConfig) -> tuple[int, ...]:
    """How many views each training step adds (``sample_views``'s ``copies``): V copies share step 1."""
    return (1,) if config.views == 1 else (1, config.views - 1)


def eval_steps(config: AugmentConfig) -> tuple[Step, ...]:
    """The sampler steps for evaluation: the crop alone, one view."""
    return ((Crop(size=config.size, factor=config.crop_factor),),)
