"""The committed twin models: each file matches its manifest's sha256, loads strictly, provably comes from the
code (its training's first steps, computed again from the seed, give the manifest's losses), and a tampered copy
is refused in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from gan_core.stylegan2 import Generator
from gan_core.twin_faces import aligned_twin_faces
from gan_core.twin_gan import CHECKED_STEPS, TwinGanConfig, replay_first_steps
from gan_core.twin_landmarks import check_run
from gan_core.twin_measure import aligned_landmarks
from gan_core.twin_models import TWIN_MODELS, load_committed_generator, load_committed_landmarks
from gan_core.twin_perceptual import TwinPerceptual
from landmark_core.config import ConfigError, from_json, load_config
from landmark_core.metrics import nme_per_face
from landmark_core.model_manifest import MAX_BYTES, read_manifest
from landmark_core.synth.render import Lighting
from landmark_core.train_config import TrainConfig


def _config() -> TwinGanConfig:
    return from_json(TwinGanConfig, (TWIN_MODELS / "config.json").read_text(), where="config.json")


def test_the_committed_generator_loads_strictly_and_is_small():
    entry = read_manifest(TWIN_MODELS)["generator.pt"]
    assert (TWIN_MODELS / "generator.pt").stat().st_size <= MAX_BYTES and entry.settings == "config.json"
    generator = load_committed_generator()
    z = torch.randn(4, generator.config.style_dim, generator=torch.Generator().manual_seed(0))
    assert generator(z).shape == (4, 3, 64, 64) and not generator.training
    assert entry.command.startswith("eltrepro gan train-twin ") and entry.seconds > 0


@pytest.mark.slow
def test_the_first_steps_computed_again_from_the_seed_give_the_manifests_losses():
    recorded = read_manifest(TWIN_MODELS)["generator.pt"].first_losses
    assert len(recorded) == CHECKED_STEPS
    replayed = replay_first_steps(config=_config(), steps=CHECKED_STEPS)
    for step, (want, got) in enumerate(zip(recorded, replayed, strict=True)):
        # another thread count or CPU (other vector kernels) changes the last bits of a sum, and
        # training amplifies them: on an AVX2 machine 1e-7 (relative) at the first step, 1.4e-4 at the fourth
        assert got.generator == pytest.approx(want["generator"], rel=1e-3), step
        assert got.discriminator == pytest.approx(want["discriminator"], rel=1e-3), step


def test_a_tampered_or_unlisted_file_is_refused_in_one_line(tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(TWIN_MODELS, copy)
    data = bytearray((copy / "generator.pt").read_bytes())
    data[-100] ^= 0xFF
    (copy / "generator.pt").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"generator.pt: sha256 [0-9a-f]{64}, but MANIFEST.toml says") as refused:
        load_committed_generator(folder=copy)
    assert "\n" not in str(refused.value)
    (copy / "MANIFEST.toml").unlink()
    with pytest.raises(ConfigError, match="MANIFEST.toml: no such file"):
        load_committed_generator(folder=copy)


def _mean_face_distance(generator: Generator, reals: torch.Tensor) -> float:
    """How far the generator's average image is from the real faces' average (both in [-1, 1])."""
    z = torch.randn(64, generator.config.style_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fakes = generator(z).clamp(-1, 1)
    return (fakes.mean(0) - reals.mean(0)).abs().mean().item()


@pytest.mark.slow
def test_the_trained_generator_makes_twin_like_faces_unlike_an_untrained_one():
    faces = aligned_twin_faces(seeds=range(2_000_000, 2_000_064), resolution=64).images  # held-out faces
    reals = torch.from_numpy(faces.transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1.0
    torch.manual_seed(0)
    untrained = Generator(_config().generator).eval()
    trained, random = _mean_face_distance(load_committed_generator(), reals), _mean_face_distance(untrained, reals)
    assert trained < 0.5 * random, (trained, random)
    assert json.loads((TWIN_MODELS / "config.json").read_text())["generator"]["resolution"] == 64


def _tensor(images) -> torch.Tensor:
    """``[N, R, R, 3]`` uint8 RGB -> ``[N, 3, R, R]`` in [-1, 1]."""
    return torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1.0


@pytest.mark.slow
def test_the_committed_landmark_model_finds_held_out_landmarks(tmp_path):
    model, config = load_committed_landmarks()
    faces = aligned_twin_faces(seeds=range(2_000_000, 2_000_020), resolution=64)
    found = aligned_landmarks(model=model, config=config, images_rgb=faces.images, device=torch.device("cpu"))
    nme = nme_per_face(pred=found, truth=faces.landmarks)
    assert nme.mean() < 0.06, nme.mean()  # 3.5 % on 100 such faces; its manifest's test NME is 3.5 %
    recorded = read_manifest(TWIN_MODELS)["landmarks.pt"].first_losses[0]["loss"]
    again = check_run(
        config=load_config(TrainConfig, TWIN_MODELS / "landmarks.toml"), folder=tmp_path, device=torch.device("cpu")
    )
    assert again == pytest.approx(recorded, rel=1e-3)  # 2.5e-4 apart on an AVX2 machine (see above)


def test_the_twin_distance_tells_another_face_or_a_moved_face_from_the_same_face_relit():
    distance = TwinPerceptual(load_committed_landmarks()[0])
    seeds = range(2_000_000, 2_000_008)
    faces = _tensor(aligned_twin_faces(seeds=seeds, resolution=64).images)
    relit = _tensor(aligned_twin_faces(seeds=seeds, resolution=64, lighting=Lighting(direction=(0.6, 0.2, 0.8))).images)
    same, other, moved = distance(faces, relit), distance(faces, faces.roll(1, 0)), distance(faces, faces.roll(3, 3))
    assert same.max() < moved.min() and moved.median() < other.median() and same.max() < other.min(), (
        same,
        moved,
        other,
    )


def _flow_pairs():
    from gan_core.twin_flow import TwinFlowConfig, read_pairs

    config = load_config(TwinFlowConfig, TWIN_MODELS / "flow.json")
    generator = load_committed_generator()
    return config, read_pairs(
        generator=generator, path=TWIN_MODELS / "pairs.csv", count=config.samples, seed=config.seed
    )


@pytest.mark.slow
def test_the_flows_first_steps_computed_again_from_its_pairs_give_the_manifests_losses():
    from gan_core.twin_flow import train_twin_flow

    entry = read_manifest(TWIN_MODELS)["flow.pt"]
    assert entry.inputs == ("pairs.csv",) and len(entry.first_losses) == CHECKED_STEPS
    config, pairs = _flow_pairs()
    _, replayed = train_twin_flow(pairs=pairs, config=config, steps=CHECKED_STEPS)
    recorded = [s["nll_per_dim"] for s in entry.first_losses]
    assert replayed == pytest.approx(recorded, rel=1e-3)  # as the generator's replay


@pytest.mark.slow
def test_the_trained_flow_explains_its_pairs_better_than_an_untrained_one_and_inverts():
    from gan_core.styleflow import SequentialFlow
    from gan_core.styleflow_train import nll_per_dim
    from gan_core.twin_models import load_committed_flow

    config, pairs = _flow_pairs()
    codes, conditions = pairs.codes[:64, :1], pairs.conditions[:64]  # [64, 1, D], [64, 17]
    flow = load_committed_flow()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        untrained = SequentialFlow(config.flow)
    with torch.no_grad():
        trained_nll = nll_per_dim(flow=flow, codes=codes, conditions=conditions, probe=None).item()
        untrained_nll = nll_per_dim(flow=untrained, codes=codes, conditions=conditions, probe=None).item()
    assert trained_nll < untrained_nll - 0.5, (trained_nll, untrained_nll)
    back = flow.from_latent(flow.to_latent(codes, conditions), conditions)
    assert torch.allclose(back, codes, atol=1e-2 * codes.abs().max().item())  # the same condition: the same code


@pytest.mark.slow
def test_relighting_with_the_flow_moves_the_fitted_light_to_the_side_asked():
    """Sixteen samples relit toward the most left-lit and the most right-lit lighting among the flow's pairs:
    the lighting fitted on the relit pictures (the estimator the flow was trained with) follows."""
    from gan_core.styleflow import relight_codes
    from gan_core.twin_flow import measure_lighting, render_codes
    from gan_core.twin_measure import aligned_landmarks
    from gan_core.twin_models import load_committed_flow, load_committed_landmarks

    _, pairs = _flow_pairs()
    codes, source = pairs.codes[:16], pairs.conditions[:16]
    generator, flow = load_committed_generator(), load_committed_flow()
    landmarks, landmark_config = load_committed_landmarks()
    x = pairs.conditions[:, 3]  # the first band's x coefficient (DPR's order: Y, Z, X): where the light comes from
    sides = []
    for light in (pairs.conditions[x.argmin(), :9], pairs.conditions[x.argmax(), :9]):
        relit = relight_codes(flow=flow, w=codes, source=source, target_sh=light.expand(16, 9), rows=(0, 6))
        with torch.no_grad():
            pictures = render_codes(generator=generator, codes=relit)
        found = aligned_landmarks(
            model=landmarks, config=landmark_config, images_rgb=pictures, device=torch.device("cpu")
        )
        sides.append(measure_lighting(images_rgb=pictures, landmarks=found, dpr=None)[0][:, 3])
    left, right = sides
    before = source[:, 3].numpy()
    assert np.median(left) < np.median(before) < np.median(right), (left, before, right)
    assert (left < right).mean() >= 0.9


def _fresh_encoder():
    """The committed encoder's settings, and a fresh encoder of them for the twin GAN (the training's start)."""
    from gan_core.stylegan2 import mean_w
    from gan_core.w_encoder import encoder_for
    from gan_core.w_encoder_train import TwinEncoderConfig

    config = load_config(TwinEncoderConfig, TWIN_MODELS / "encoder.json")
    generator = load_committed_generator()
    w_avg, w_std = mean_w(generator=generator, n_samples=config.w_avg_samples)
    return (
        config,
        generator,
        encoder_for(config=config.shape_for(generator), w_avg=w_avg, seed=config.train.seed),
        w_std,
    )


def test_the_committed_encoder_loads_strictly_is_small_and_gives_w_plus_codes():
    from gan_core.twin_models import load_committed_encoder

    entry = read_manifest(TWIN_MODELS)["encoder.pt"]
    assert (TWIN_MODELS / "encoder.pt").stat().st_size <= MAX_BYTES and entry.settings == "encoder.json"
    encoder = load_committed_encoder()
    codes, _ = encoder(torch.zeros(2, 3, 64, 64))
    assert codes.shape == (2, 10, 128) and not encoder.training


@pytest.mark.slow
def test_the_encoders_first_steps_computed_again_from_the_seed_give_the_manifests_losses():
    from gan_core.w_encoder_train import train_encoder

    entry = read_manifest(TWIN_MODELS)["encoder.pt"]
    config, generator, encoder, w_std = _fresh_encoder()
    replayed = train_encoder(
        encoder=encoder, generator=generator, w_std=w_std, config=config.train, steps=CHECKED_STEPS
    )
    for want, got in zip(entry.first_losses, replayed, strict=True):
        assert got == pytest.approx(
            want, rel=1e-3, abs=1e-5
        )  # as the generator's replay; the manifest keeps 6 decimals


@pytest.mark.slow
def test_the_encoder_starts_a_face_nearer_its_answer_than_the_mean_w():
    from gan_core.stylegan2 import mean_w
    from gan_core.twin_gan import HELD_OUT_SEED
    from gan_core.twin_models import load_committed_encoder

    faces = aligned_twin_faces(seeds=range(HELD_OUT_SEED, HELD_OUT_SEED + 8), resolution=64)
    targets = torch.from_numpy(faces.images.transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1
    generator, encoder = load_committed_generator(), load_committed_encoder()
    w_avg, _ = mean_w(generator=generator, n_samples=2000)
    with torch.no_grad():
        encoded = generator.synthesis(encoder(targets)[0])
        average = generator.synthesis(w_avg[None, None].repeat(8, 10, 1))
    error = lambda images: (images.clamp(-1, 1) - targets).square().mean(dim=(1, 2, 3))  # noqa: E731
    assert (error(encoded) < error(average)).float().mean() >= 0.75
    assert error(encoded).median() < 0.6 * error(average).median()
