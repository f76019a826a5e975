"""Fixtures of the model-using tests: an untrained tiny network ready to predict on given boxes."""

from __future__ import annotations

import pytest
import torch

from elt_models.predict import Predictor
from landmark_core.sampler import AugmentConfig
from landmark_core.train import build_model
from landmark_core.train_config import TrainConfig
from tests.tiny import TINY_MODEL


@pytest.fixture(scope="session")
def tiny_predictor() -> Predictor:
    """An untrained tiny network on the CPU (finite landmarks, no detector: boxes are given)."""
    config = TrainConfig(model=TINY_MODEL, augment=AugmentConfig(size=32))
    cpu = torch.device("cpu")
    return Predictor(model=build_model(TINY_MODEL, seed=0, device=cpu).eval(), config=config, device=cpu)
