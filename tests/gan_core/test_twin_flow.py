"""The twin flow's pairs: seeded codes, conditions measured on their pictures (DPR, the landmark model's pose),
samples without a pose left out with their reason, the pairs' CSV read back to the same codes, and a
reproducible training of the flow on them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gan_core.dpr import HourglassNet
from gan_core.styleflow_config import FlowConfig
from gan_core.styleflow_train import FlowTrainConfig
from gan_core.stylegan2 import Generator
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.twin_flow import TwinFlowConfig, flow_pairs, read_pairs, sample_codes, train_twin_flow, write_pairs
from landmark_core.sampler import AugmentConfig
from landmark_core.train import build_model
from landmark_core.train_config import ModelConfig, TrainConfig

LANDMARKS = TrainConfig(
    model=ModelConfig(
        size=32, stem_channels=4, encoder_channels=(8, 16), encoder_blocks=(1, 1), decoder_channels=(8, 8), stages=1
    ),
    augment=AugmentConfig(size=32),
)
SMALL = TwinFlowConfig(
    lighting="dpr",
    samples=6,
    flow=FlowConfig(dim=16, hidden=(16,), atol=1e-3, rtol=1e-3),
    train=FlowTrainConfig(steps=2, batch=2),
)


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(GeneratorConfig(resolution=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)).eval()


def test_codes_are_seeded_and_repeat_one_w_over_the_rows(generator):
    codes = sample_codes(generator=generator, count=3, seed=5)
    assert codes.shape == (3, generator.config.n_latent, 16) and torch.equal(codes[:, 0], codes[:, -1])
    assert torch.equal(codes, sample_codes(generator=generator, count=3, seed=5))
    assert not torch.equal(codes, sample_codes(generator=generator, count=3, seed=6))


def test_pairs_are_measured_read_back_and_train_a_flow_reproducibly(generator, tmp_path):
    model = build_model(LANDMARKS.model, seed=0, device=torch.device("cpu"))
    torch.manual_seed(0)
    dpr = HourglassNet().eval()
    pairs = flow_pairs(
        generator=generator, landmark_model=model, landmark_config=LANDMARKS, dpr=dpr, count=6, seed=1, batch=4
    )
    assert list(pairs.indices) == list(range(6)) and pairs.left_out == ()  # every picture has a pose here
    assert pairs.conditions.shape == (len(pairs.indices), 17) and torch.isfinite(pairs.conditions).all()
    expected = sample_codes(generator=generator, count=6, seed=1)[torch.as_tensor(pairs.indices)]
    assert torch.equal(pairs.codes, expected)
    write_pairs(pairs=pairs, path=tmp_path / "pairs.csv")
    again = read_pairs(generator=generator, path=tmp_path / "pairs.csv", count=6, seed=1)
    assert np.array_equal(again.indices, pairs.indices) and torch.equal(again.codes, pairs.codes)
    assert torch.equal(again.conditions, pairs.conditions)  # repr() of each float: nothing lost
    _, first = train_twin_flow(pairs=again, config=SMALL)
    _, second = train_twin_flow(pairs=again, config=SMALL)
    assert first == second and len(first) == 2


def test_a_training_can_stop_after_its_first_steps():
    codes = torch.randn(8, 4, 16)
    conditions = torch.randn(8, 17)
    from gan_core.twin_flow import FlowPairs

    pairs = FlowPairs(indices=np.arange(8), codes=codes, conditions=conditions)
    config = dataclasses.replace(SMALL, train=FlowTrainConfig(steps=5, batch=4))
    flow, losses = train_twin_flow(pairs=pairs, config=config, steps=2)
    _, full = train_twin_flow(pairs=pairs, config=config)
    assert losses == full[:2] and len(full) == 5 and not flow.training


def test_a_face_without_a_pose_is_left_out_with_its_reason():
    from gan_core.twin_measure import head_poses

    points = np.stack([np.zeros((98, 2)), np.full((98, 2), np.nan)])  # a collapsed face, then no landmarks
    poses, reasons = head_poses(landmarks=points)
    assert np.isnan(poses).all() and all(r.startswith("no head pose: ") for r in reasons)


def test_flow_pairs_keep_the_others_when_one_picture_has_no_pose(generator, monkeypatch):
    import gan_core.twin_flow as twin_flow

    def poses_but_the_second(*, landmarks):
        reasons = ["" if i != 1 else "no head pose: collapsed face" for i in range(len(landmarks))]
        return np.zeros((len(landmarks), 2)), reasons

    monkeypatch.setattr(twin_flow, "head_poses", poses_but_the_second)
    model = build_model(LANDMARKS.model, seed=0, device=torch.device("cpu"))
    pairs = flow_pairs(
        generator=generator,
        landmark_model=model,
        landmark_config=LANDMARKS,
        dpr=HourglassNet().eval(),
        count=3,
        seed=1,
    )
    assert list(pairs.indices) == [0, 2] and pairs.left_out == ((1, "no head pose: collapsed face"),)
    assert len(pairs.codes) == len(pairs.conditions) == 2


def test_the_fitted_lighting_follows_the_light_a_twin_face_was_rendered_under():
    from gan_core.twin_faces import aligned_twin_faces
    from gan_core.twin_flow import measure_lighting
    from landmark_core.synth.render import Lighting

    sides = []
    for x in (-0.8, 0.8):  # the light from the viewer's left, then right
        faces = aligned_twin_faces(seeds=range(3), resolution=64, lighting=Lighting(direction=(x, 0.2, 0.6)))
        lighting, reasons = measure_lighting(images_rgb=faces.images, landmarks=faces.landmarks, dpr=None)
        assert reasons == ["", "", ""] and lighting.shape == (3, 9)
        sides.append(lighting[:, 3])  # the first band's x coefficient (DPR's order: Y, Z, X)
    assert (sides[0] < 0).all() and (sides[1] > 0).all()


def test_a_picture_without_usable_landmarks_gets_no_lighting_and_a_reason():
    from gan_core.twin_flow import measure_lighting

    images = np.full((2, 32, 32, 3), 128, dtype=np.uint8)
    lighting, reasons = measure_lighting(images_rgb=images, landmarks=np.full((2, 98, 2), np.nan), dpr=None)
    assert (lighting == 0).all() and all(r.startswith("no lighting:") for r in reasons)
