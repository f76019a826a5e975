"""The training loop: plateau schedule, checkpoints, exact resume, learning on the twin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from landmark_core.dataset import face_records
from landmark_core.metrics import nme_per_face
from landmark_core.predict import predict_landmarks
from landmark_core.sampler import AugmentConfig
from landmark_core.train import (
    BEST,
    HISTORY_FILE,
    LAST,
    PlateauSchedule,
    epoch_lr,
    load_checkpoint,
    split_validation,
    train,
)
from landmark_core.train_config import LossConfig, ModelConfig, TrainConfig
from landmark_core.weights_file import WeightsFileError
from landmark_core.wflw_index import index_wflw
from tests.tiny import TINY_MODEL

TINY = TrainConfig(
    model=TINY_MODEL,
    augment=AugmentConfig(size=32, r1=0.0, r2=0.05),
    loss=LossConfig(elt_lambda=0.25),
    batch_size=4,
    seed=5,
)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def split(synth_root: Path):
    faces = index_wflw(root=synth_root).faces
    records = face_records(root=synth_root, faces=faces[faces["split"] == "train"])
    return split_validation(records=records, fraction=0.2, seed=0)


def test_plateau_schedule_decays_then_stops():
    s = PlateauSchedule(lr=1e-3, factor=0.1, patience=2, min_lr=1e-5)
    assert not s.step(1.0) and s.best == 1.0
    assert not s.step(1.0) and s.lr == 1e-3  # one bad epoch
    assert not s.step(2.0) and s.lr == pytest.approx(1e-4) and s.bad_epochs == 0  # two -> decay
    assert not s.step(0.5) and s.best == 0.5
    for _ in range(2):
        s.step(0.9)
    assert s.lr == pytest.approx(1e-5)
    assert not s.step(0.9)
    assert s.step(0.9)  # at min_lr, patience more bad epochs -> stop
    restored = PlateauSchedule(lr=0, factor=0.1, patience=2, min_lr=1e-5)
    restored.load_state_dict(s.state_dict())
    assert restored.state_dict() == s.state_dict()


def test_the_cosine_schedule_anneals_over_max_epochs_and_ignores_plateaus():
    config = TrainConfig(**{**TINY.__dict__, "lr": 4e-3, "min_lr": 0.0, "max_epochs": 4, "lr_schedule": "cosine"})
    plateau = PlateauSchedule(lr=1.0, factor=0.1, patience=1, min_lr=0.0)  # never consulted for cosine
    rates = [epoch_lr(config=config, epoch=e, plateau=plateau) for e in range(4)]
    assert rates == pytest.approx([4e-3, 4e-3 * (1 + np.cos(np.pi / 4)) / 2, 2e-3, 4e-3 * (1 - np.cos(np.pi / 4)) / 2])
    study = TrainConfig(**{**TINY.__dict__, "lr": 4e-3})
    assert epoch_lr(config=study, epoch=3, plateau=plateau) == 1.0  # the plateau schedule's current rate


def test_a_cosine_run_trains_exactly_max_epochs_at_the_annealed_rates(split, tmp_path):
    train_part, val = split
    config = TrainConfig(**{**TINY.__dict__, "max_epochs": 3, "lr_schedule": "cosine"})
    history = train(config=config, train_records=train_part, val_records=val, out=tmp_path, device=CPU)
    assert len(history) == 3 and json.loads((tmp_path / "config.json").read_text())["lr_schedule"] == "cosine"
    assert [h.lr for h in history] == pytest.approx([epoch_lr(config=config, epoch=e, plateau=None) for e in range(3)])


def test_split_validation_is_seeded_and_disjoint(split):
    train_part, val = split
    assert val and train_part and not {r.face_id for r in val} & {r.face_id for r in train_part}
    again = split_validation(records=train_part + val, fraction=0.2, seed=0)
    assert len(again[1]) == len(val)


def test_resume_continues_exactly_like_an_uninterrupted_run(split, tmp_path):
    train_part, val = split
    full = train(config=TINY, train_records=train_part, val_records=val, out=tmp_path / "a", device=CPU, stop_after=2)
    train(config=TINY, train_records=train_part, val_records=val, out=tmp_path / "b", device=CPU, stop_after=1)
    resumed = train(
        config=TINY,
        train_records=train_part,
        val_records=val,
        out=tmp_path / "b",
        device=CPU,
        resume=True,
        stop_after=1,
    )
    assert [r.epoch for r in resumed] == [0, 1]
    for a, b in zip(full, resumed, strict=True):
        assert (a.loss, a.loss_gt, a.loss_elt, a.val_nme) == (b.loss, b.loss_gt, b.loss_elt, b.val_nme)
    assert full[1].loss_elt > 0
    sa = torch.load(tmp_path / "a" / LAST, weights_only=True)["model"]
    sb = torch.load(tmp_path / "b" / LAST, weights_only=True)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    for name in (LAST, BEST, HISTORY_FILE, "config.json"):  # no timing in them: the very same bytes
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert resumed[0].seconds > 0 and resumed[1].seconds > 0  # timings kept apart, across the resume


def test_checkpoint_holds_everything_and_loads_strictly(split, tmp_path):
    train_part, val = split
    train(config=TINY, train_records=train_part, val_records=val, out=tmp_path, device=CPU, stop_after=1)
    ckpt = torch.load(tmp_path / LAST, weights_only=True)
    assert {"model", "optimizer", "schedule", "epoch", "history", "config", "torch_rng"} <= set(ckpt)
    model, config, _ = load_checkpoint(tmp_path / BEST)
    assert config == TINY
    lines = (tmp_path / HISTORY_FILE).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["epoch"] == 0
    assert json.loads((tmp_path / "config.json").read_text())["loss"]["elt_lambda"] == 0.25
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


def test_max_epochs_caps_training_and_a_finished_run_does_not_restart(split, tmp_path):
    train_part, val = split
    config = TrainConfig(**{**TINY.__dict__, "max_epochs": 1})
    assert len(train(config=config, train_records=train_part, val_records=val, out=tmp_path, device=CPU)) == 1
    assert (
        len(train(config=config, train_records=train_part, val_records=val, out=tmp_path, device=CPU, resume=True)) == 1
    )


def test_max_steps_ends_the_run_inside_an_epoch(split, tmp_path):
    train_part, val = split
    batches = len(train_part) // TINY.batch_size  # drop_last: whole batches per epoch
    config = TrainConfig(**{**TINY.__dict__, "max_steps": batches + 1})
    history = train(config=config, train_records=train_part, val_records=val, out=tmp_path, device=CPU)
    assert len(history) == 2  # one whole epoch, then one step of the second
    images = [h.images_per_second * h.seconds for h in history]
    assert images[1] == pytest.approx(images[0] / batches)
    assert (
        len(train(config=config, train_records=train_part, val_records=val, out=tmp_path, device=CPU, resume=True)) == 2
    )


def test_resume_refuses_a_changed_config(split, tmp_path):
    train_part, val = split
    train(config=TINY, train_records=train_part, val_records=val, out=tmp_path, device=CPU, stop_after=1)
    changed = TrainConfig(**{**TINY.__dict__, "loss": LossConfig(elt_lambda=0.5), "max_epochs": 9})
    with pytest.raises(ValueError, match=r"differs in \['loss'\]"):
        train(config=changed, train_records=train_part, val_records=val, out=tmp_path, device=CPU, resume=True)
    assert json.loads((tmp_path / "config.json").read_text())["loss"]["elt_lambda"] == 0.25  # untouched


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_uses_bf16_autocast_and_channels_last(split, tmp_path):
    train_part, val = split
    history = train(
        config=TINY, train_records=train_part, val_records=val, out=tmp_path, device=torch.device("cuda"), stop_after=1
    )
    assert np.isfinite(history[0].loss)
    model, _, _ = load_checkpoint(tmp_path / LAST, device="cuda")
    assert next(model.parameters()).is_cuda


@pytest.mark.slow
def test_training_lowers_the_error_on_held_out_faces(synth_root: Path, tmp_path):
    faces = index_wflw(root=synth_root).faces
    records = face_records(root=synth_root, faces=faces[faces["split"] == "train"])
    test = face_records(root=synth_root, faces=faces[faces["split"] == "test"])
    config = TrainConfig(
        model=ModelConfig(
            size=32,
            stem_channels=8,
            encoder_channels=(16, 16, 32, 32),
            encoder_blocks=(1, 1, 1, 1),
            decoder_channels=(32, 16, 16, 16),
            expansion=2,
            stages=1,
        ),
        augment=AugmentConfig(size=32, views=1, max_angle_deg=10, occlusion_p=0, blur_p=0, lighting_p=0),
        loss=LossConfig(sigma=1.0),
        batch_size=4,
        lr=3e-3,
    )
    truth = np.stack([r.landmarks for r in test])
    untrained, _, _ = load_checkpoint_after(config, records, tmp_path / "u", epochs=0)
    before = nme_per_face(
        pred=predict_landmarks(model=untrained, records=test, augment=config.augment, device=CPU), truth=truth
    ).mean()
    trained, _, _ = load_checkpoint_after(config, records, tmp_path / "t", epochs=25)
    after = nme_per_face(
        pred=predict_landmarks(model=trained, records=test, augment=config.augment, device=CPU), truth=truth
    ).mean()
    print(f"NME before {before:.3f} after {after:.3f}")
    assert after < 0.6 * before


def load_checkpoint_after(config: TrainConfig, records, out: Path, epochs: int):
    """Train ``epochs`` epochs (0: just the initialised model) and load the last checkpoint."""
    if epochs == 0:
        from landmark_core.train import build_model

        return build_model(config.model, seed=config.seed, device=CPU), config, None
    train(config=config, train_records=records, val_records=records[:4], out=out, device=CPU, stop_after=epochs)
    return load_checkpoint(out / LAST)


def test_a_resume_from_a_hostile_last_checkpoint_is_refused(split, tmp_path, hostile_torch_file):
    train_part, val = split
    path, marker = hostile_torch_file(name=LAST, content={"model": {}, "config": {}})
    with pytest.raises(WeightsFileError, match="could run code"):
        train(config=TINY, train_records=train_part, val_records=val, out=tmp_path, device=CPU, resume=True)
    assert not marker.exists()
