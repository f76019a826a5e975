"""The study's relighting variants, shared by both relighting backends: how many, toward which presets, how far.

A face's variants are seeded by the config's seed and the face id, so any subset of faces reproduces.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from gan_core.sh import plan_variants


@dataclass(frozen=True)
class VariantsConfig:
    """Variants per face, presets per variant, the range of amounts, and the seed."""

    n_variants: int = 3
    k_lights: int = 3
    amount_min: float = 0.3
    amount_max: float = 1.0
    seed: int = 0


def face_plan(config: VariantsConfig, face_id: str) -> list[tuple[list[str], list[float]]]:
    """The variants of one face as (preset names, amounts) pairs."""
    seed = (config.seed * 1_000_003 + zlib.crc32(face_id.encode())) % 2**32
    return plan_variants(
        n_variants=config.n_variants,
        k_lights=config.k_lights,
        amount_min=config.amount_min,
        amount_max=config.amount_max,
        seed=seed,
    )
