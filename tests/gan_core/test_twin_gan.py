"""The twin GAN's training folder: faces, resume from the checkpoint, settings kept, the generator loaded strictly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gan_core.gan_train_config import DiscriminatorConfig, GanTrainConfig
from gan_core.strict import WeightsMismatchError
from gan_core.stylegan2_config import GeneratorConfig
from gan_core.twin_gan import (
    HELD_OUT_SEED,
    TwinFacesConfig,
    TwinGanConfig,
    final_losses,
    load_twin_generator,
    start_or_resume,
    train_twin_gan,
    training_images,
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


def test_training_images_are_the_aligned_portraits_in_minus_one_to_one():
    images = training_images(config=TINY)
    assert images.shape == (12, 3, 16, 16) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.1


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
