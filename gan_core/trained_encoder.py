"""A W+ encoder trained for a published generator: installed in the weights folder, named by its digest.

The twin encoder is committed (``gan_core/twin_models``); an encoder for the FFHQ generator is a GPU job
(``eltrepro gan train-encoder``) and, like the published weights, lives in the weights folder, never in the
repository. Its folder is named after the first 16 hex digits of ``encoder.pt``'s sha256 and holds the settings
(``encoder.json``) and the training's ``MANIFEST.toml``. A profile names the encoder by the full digest, so the
project stage's key depends on the encoder's bytes, not on where it lies; the bytes are checked before the
weights-only, strict load.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from gan_core.strict import load_strict
from gan_core.stylegan2 import Generator
from gan_core.w_encoder import WEncoder
from gan_core.w_encoder_train import TwinEncoderConfig
from landmark_core.config import ConfigError, load_config
from landmark_core.download import sha256_file

FILES = ("encoder.pt", "encoder.json", "MANIFEST.toml")


def encoder_folder(*, weights_dir: Path, sha256: str) -> Path:
    """Where the encoder with this digest is installed in ``weights_dir``."""
    return weights_dir / f"w-encoder-{sha256[:16]}"


def install_encoder(*, trained: Path, weights_dir: Path) -> str:
    """Copy a training's folder (``encoder.pt``, ``encoder.json``, ``MANIFEST.toml`` where there is one) into
    ``weights_dir`` under its digest.

    Returns:
        The sha256 of ``encoder.pt`` (the value a profile's ``encoder_sha256`` takes).
    """
    digest = sha256_file(trained / "encoder.pt")
    target = encoder_folder(weights_dir=weights_dir, sha256=digest)
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (trained / name).is_file():
            shutil.copyfile(trained / name, target / name)
    return digest


def load_trained_encoder(*, weights_dir: Path | None, sha256: str, generator: Generator) -> WEncoder:
    """The installed encoder with digest ``sha256``, in eval mode, without gradients.

    Args:
        weights_dir: the weights folder it was installed in.
        sha256: the full digest of its ``encoder.pt``.
        generator: the generator it was trained for (its shape sizes the encoder).

    Raises:
        ConfigError: no such encoder, or its bytes have another digest (one line naming the file).
        gan_core.strict.WeightsMismatchError: the file does not fit the encoder of its ``encoder.json`` or this
            generator.
    """
    folder = encoder_folder(weights_dir=weights_dir or Path("."), sha256=sha256)
    path = folder / "encoder.pt"
    if weights_dir is None or not path.is_file():
        raise ConfigError(
            f"{path}: no W+ encoder with sha256 {sha256}; train one with `eltrepro gan train-encoder` "
            "(it installs it in the weights folder) and pass that folder"
        )
    digest = sha256_file(path)
    if digest != sha256:
        raise ConfigError(f"{path}: sha256 {digest}, but the profile names {sha256}")
    return read_encoder(path=path, generator=generator)


def read_encoder(*, path: Path, generator: Generator) -> WEncoder:
    """The encoder in ``path`` (its digest already checked), shaped by the ``encoder.json`` beside it and the
    generator, loaded weights-only and strictly; in eval mode, without gradients.

    Raises:
        gan_core.strict.WeightsMismatchError: the file does not fit that encoder.
    """
    settings = load_config(TwinEncoderConfig, path.parent / "encoder.json")
    encoder = WEncoder(settings.shape_for(generator))
    load_strict(encoder, torch.load(path, map_location="cpu", weights_only=True), source=str(path))
    return encoder.eval().requires_grad_(False)
