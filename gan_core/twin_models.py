"""The twin models the project trained itself and commits: ``gan_core/twin_models/`` and its ``MANIFEST.toml``.

The folder holds each model file, the settings file that made it and a manifest with its sha256, the command,
the commit, the training time and its losses (``landmark_core.model_manifest``). A model is handed out only
after its digest matched the manifest and its weights loaded strictly (weights only, every key, every shape),
as the published weights are.
"""

from __future__ import annotations

from pathlib import Path

from gan_core.styleflow import SequentialFlow
from gan_core.stylegan2 import Generator
from gan_core.twin_gan import load_twin_generator
from landmark_core.model_manifest import verified_path

TWIN_MODELS = Path(__file__).resolve().parent / "twin_models"


def load_committed_generator(*, folder: Path = TWIN_MODELS) -> Generator:
    """The committed twin GAN's EMA generator, in eval mode, without gradients.

    Args:
        folder: the models' folder (the committed one by default; a test passes a copy).

    Raises:
        landmark_core.config.ConfigError: no manifest, no entry, a file over 16 MiB or another digest (one line).
        gan_core.strict.WeightsMismatchError: the file does not fit the generator of its ``config.json``.
    """
    verified_path(folder=folder, name="generator.pt")
    return load_twin_generator(folder=folder)


def load_committed_landmarks(*, folder: Path = TWIN_MODELS, device: str = "cpu"):
    """The committed twin landmark model and its training settings, after ``landmarks.pt``'s digest matched.

    Returns:
        (the network in eval mode, its ``TrainConfig``).

    Raises:
        landmark_core.config.ConfigError: as ``load_committed_generator``.
    """
    from landmark_core.train import load_checkpoint

    model, config, _ = load_checkpoint(verified_path(folder=folder, name="landmarks.pt"), device=device)
    return model.eval(), config


def load_committed_flow(*, folder: Path = TWIN_MODELS) -> SequentialFlow:
    """The committed twin lighting flow, in eval mode, after ``flow.pt``'s digest matched.

    Raises:
        landmark_core.config.ConfigError: as ``load_committed_generator``.
        gan_core.strict.WeightsMismatchError: the file does not fit the flow of its ``flow.json``.
    """
    import torch

    from gan_core.strict import load_strict
    from gan_core.twin_flow import TwinFlowConfig
    from landmark_core.config import load_config

    path = verified_path(folder=folder, name="flow.pt")
    config = load_config(TwinFlowConfig, folder / "flow.json")
    flow = SequentialFlow(config.flow)
    load_strict(flow, torch.load(path, map_location="cpu", weights_only=True), source=str(path))
    return flow.eval()


def load_committed_encoder(*, folder: Path = TWIN_MODELS, generator: Generator | None = None):
    """The committed twin W+ encoder (for the twin GAN), in eval mode, after ``encoder.pt``'s digest matched.

    Args:
        folder: the models' folder.
        generator: the twin GAN (its shape sizes the encoder); None loads the committed one.

    Raises:
        landmark_core.config.ConfigError: as ``load_committed_generator``.
        gan_core.strict.WeightsMismatchError: the file does not fit the encoder of its ``encoder.json``.
    """
    from gan_core.trained_encoder import read_encoder

    path = verified_path(folder=folder, name="encoder.pt")
    return read_encoder(path=path, generator=generator or load_committed_generator(folder=folder))
