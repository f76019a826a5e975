"""The twin GAN's training folder: faces, resume from the checkpoint, settings kept, the generator loaded strictly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gan_core.gan_train_config import DiscriminatorConfig, GanTrainConfig
from gan_core.strict import WeightsMismatchError
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.twin_faces import aligned_twin_faces
from gan_core.twin_gan import (
    HELD_OUT_SEED,
    TwinFacesConfig,
    TwinGanConfig,
    final_losses,
    load_twin_generator,
    replay_first_steps,
    start_or_resume,
    train_twin_gan,
    training_faces,
)
from landmark_core.config import ConfigError, from_dict

TINY = TwinGanConfig(
    generator=GeneratorConfig(resolution=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16),
    discriminator=DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16),
    faces=TwinFacesConfig(count=12, photo_side=64),
    train=GanTrainConfig(steps=4, batch=4, r1_interval=2, seed=3),
)


def _with_steps(steps: int) -> TwinGanConfig:
    return dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, steps=steps))


def test_training_faces_are_the_aligned_portraits_in_minus_one_to_one_rendered_when_drawn():
    faces = training_faces(config=TINY)
    batch = faces[torch.tensor([3, 0, 3])]
    assert len(faces) == 12 and len(faces._faces) == 2  # only the faces drawn were rendered
    assert batch.shape == (3, 3, 16, 16) and batch.dtype == torch.float32 and torch.equal(batch[0], batch[2])
    assert batch.min() >= -1 and batch.max() <= 1 and batch.std() > 0.1
    stacked = aligned_twin_faces(seeds=[3, 0], resolution=16, photo_side=64).images  # [2, R, R, 3] uint8
    expected = torch.from_numpy(stacked.transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1.0
    assert torch.equal(batch[:2], expected)
    assert len(faces.render_all()._faces) == 12 and faces[torch.tensor([], dtype=torch.long)].shape == (0, 3, 16, 16)


def test_the_first_steps_replayed_from_the_seed_match_the_training(tmp_path):
    trained = train_twin_gan(config=TINY, folder=tmp_path)
    assert replay_first_steps(config=TINY, steps=3) == trained.losses[:3]


def test_a_stopped_training_goes_on_exactly_as_an_unstopped_one(tmp_path):
    straight = train_twin_gan(config=TINY, folder=tmp_path / "a")
    train_twin_gan(config=_with_steps(2), folder=tmp_path / "b")
    resumed = train_twin_gan(config=TINY, folder=tmp_path / "b")  # more steps: goes on from step 2
    assert resumed.losses == straight.losses and resumed.seconds > 0
    a, b = load_twin_generator(folder=tmp_path / "a"), load_twin_generator(folder=tmp_path / "b")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    lines = (tmp_path / "b" / "losses.csv").read_text().splitlines()
    assert lines[0] == "step,generator,discriminator,r1" and len(lines) == 5
    assert lines[2].endswith(",")  # step 1 applies no R1


def test_a_folder_of_another_training_is_refused(tmp_path):
    train_twin_gan(config=_with_steps(1), folder=tmp_path)
    other = dataclasses.replace(TINY, faces=dataclasses.replace(TINY.faces, count=13))
    with pytest.raises(ValueError, match="holds a training with other settings"):
        start_or_resume(config=other, folder=tmp_path)


def test_the_generator_loads_strictly(tmp_path):
    train_twin_gan(config=_with_steps(1), folder=tmp_path)
    generator = load_twin_generator(folder=tmp_path)
    assert generator(torch.randn(2, 16)).shape == (2, 3, 16, 16)
    state = torch.load(tmp_path / "generator.pt", weights_only=True)
    del state["style.1.weight"]
    torch.save(state, tmp_path / "generator.pt")
    with pytest.raises(WeightsMismatchError, match="missing"):
        load_twin_generator(folder=tmp_path)


def test_training_faces_stay_below_the_held_out_seeds():
    with pytest.raises(ConfigError, match=f"must stay below {HELD_OUT_SEED}"):
        from_dict(TwinFacesConfig, {"first_seed": HELD_OUT_SEED - 5, "count": 10}, where="gan.toml")
    with pytest.raises(ConfigError, match="gan.toml: generator: resolution must be a power of two >= 8, got 48"):
        from_dict(TwinGanConfig, {"generator": {"resolution": 48}}, where="gan.toml")


def test_final_losses_average_the_last_steps(tmp_path):
    state = train_twin_gan(config=TINY, folder=tmp_path)
    last = final_losses(state=state, window=2)
    assert last["generator"] == pytest.approx((state.losses[-1].generator + state.losses[-2].generator) / 2)
    assert set(final_losses(state=state)) == {"generator", "discriminator"}
