"""The tiny network the training tests use (32x32 crops, a few thousand parameters), as a config and as TOML."""

from __future__ import annotations

from landmark_core.train_config import ModelConfig

TINY_MODEL = ModelConfig(
    size=32,
    stem_channels=4,
    encoder_channels=(8, 8, 16, 16),
    encoder_blocks=(1, 1, 1, 1),
    decoder_channels=(16, 8, 8, 8),
    expansion=2,
)


def tiny_model_toml(section: str) -> str:
    """TINY_MODEL as a TOML section named ``section`` (e.g. ``model`` or ``train.model``)."""
    c = TINY_MODEL
    return (
        f"[{section}]\nsize = {c.size}\nstem_channels = {c.stem_channels}\n"
        f"encoder_channels = {list(c.encoder_channels)}\nencoder_blocks = {list(c.encoder_blocks)}\n"
        f"decoder_channels = {list(c.decoder_channels)}\nexpansion = {c.expansion}\n"
    )
