"""Shared fixtures: a small synthetic WFLW twin rendered once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmark_core.synth.dataset import SynthConfig, synthesize_wflw

SMALL = SynthConfig(train=16, test=24, seed=7)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic WFLW root (16 train / 24 test images); treat as read-only."""
    root = tmp_path_factory.mktemp("wflw-synth")
    synthesize_wflw(out=root, config=SMALL, workers=2)
    return root
