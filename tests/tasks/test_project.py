"""The project stage: per-face outputs, the demo's honesty about random weights, resume after a crash,
quarantine of unreadable faces, and fetching the published weights through the checksummed downloader."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import cv2
import numpy as np
import pytest
import torch

import tasks.project as project_module
from gan_core.projector_config import ProjectorConfig
from gan_core.published import WEIGHTS
from kit.stage import Runtime
from kit.store import Store
from landmark_core.download import DownloadError
from tasks.project import project
from tasks.published_weights import ProjectConfig, fetch_weights
from tests.kit.toy_stages import AlignedFacesConfig, aligned_faces
from tests.outputs import output_bytes

PARAMS = ProjectConfig(
    generator="random",
    perceptual="random",
    batch_size=2,
    amp=False,
    projector=ProjectorConfig(steps=12, w_avg_samples=256, discard_step=6),
)


def _filtered(store: Store, faces: int, broken: tuple[int, ...] = ()):
    """A filter-stage output with ``faces`` aligned 64x64 images."""
    return aligned_faces.run(store=store, config=AlignedFacesConfig(faces=faces, broken=broken))[0]


def project_stage(*, store, filtered, params, weights_dir=None):
    runtime = Runtime(weights_dir=str(weights_dir) if weights_dir else "")
    return project.run(store=store, config=params, runtime=runtime, filtered=filtered)


def test_stage_writes_every_face_and_says_the_pictures_mean_nothing(tmp_path):
    store = Store(tmp_path)
    filtered = _filtered(store, 3)
    out, computed = project_stage(store=store, filtered=filtered, params=PARAMS)
    assert computed
    faces, info, here = out.manifest(), out.metadata()["info"], out.local_dir()
    assert list(faces["detection_id"]) == ["img0#0", "img1#1", "img2#2"]
    assert list(faces["wflw_face_id"]) == ["wflw0", "wflw1", "wflw2"]
    assert info["meaningful"] is False and "not meaningful" in info["warning"]
    assert info["kept"] == 3 and info["discarded"] == 0 and info["seconds_per_face"] > 0
    for _, face in faces.iterrows():
        assert np.load(here / face["latent_path"]).shape == (8, 32)
        assert len(np.load(here / face["noises_path"]).files) == 7
        assert cv2.imread(str(here / face["image_path"])).shape == (32, 32, 3)
        assert np.load(here / face["losses_path"]).shape == (12,)
    assert not store.scratch("project", out.key).exists()  # the scratch area goes once published
    assert project_stage(store=store, filtered=filtered, params=PARAMS) == (out, False)


def test_the_twin_models_project_named_and_an_encoder_start_with_stopping_costs_fewer_evaluations(tmp_path):
    store = Store(tmp_path)
    filtered = _filtered(store, 2)
    study = ProjectorConfig(steps=30, w_avg_samples=64, compare_size=64, discard_step=2)
    cheap = dataclasses.replace(study, init="encoder", stop_window=3, stop_tolerance=0.5)
    tables = []
    for projector in (study, cheap):
        params = dataclasses.replace(PARAMS, generator="twin", perceptual="twin", projector=projector)
        out, _ = project_stage(store=store, filtered=filtered, params=params)
        tables.append(out.manifest())
    before, after = tables
    assert (before["generator_forwards"] == 31).all() and (before["generator_backwards"] == 30).all()
    info, here = out.metadata()["info"], out.local_dir()
    assert info["meaningful"] is True and "warning" not in info and info["perceptual"].startswith("twin distance")
    assert "twin GAN 64 px" in info["generator"] and "not FFHQ" in info["generator"]
    for _, face in after.iterrows():
        assert np.load(here / face["latent_path"]).shape == (10, 128)
        assert cv2.imread(str(here / face["image_path"])).shape == (64, 64, 3)
        assert 0 < face["lpips"] < 10  # the twin distance of the final render
    assert (after["generator_backwards"] < 30).all() and (after["steps_run"] == after["generator_backwards"]).all()
    assert "twin W+ encoder" in out.metadata()["info"]["encoder"]
    wrong = dataclasses.replace(PARAMS, projector=dataclasses.replace(PARAMS.projector, init="encoder"))
    with pytest.raises(ValueError, match="set encoder_sha256 to the digest of a W\\+ encoder trained for generator"):
        project_stage(store=store, filtered=filtered, params=wrong)
    with pytest.raises(ValueError, match="the twin GAN's encoder is the committed one"):
        project_stage(store=store, filtered=filtered, params=dataclasses.replace(params, encoder_sha256="a" * 64))
    with pytest.raises(ValueError, match='init = "mean" does not use an encoder'):
        project_stage(store=store, filtered=filtered, params=dataclasses.replace(PARAMS, encoder_sha256="a" * 64))


def _installed_encoder(weights_dir, generator) -> str:
    """A W+ encoder for the random stand-in generator, trained 2 steps and installed; its digest."""
    from gan_core.stylegan2 import mean_w
    from gan_core.trained_encoder import install_encoder
    from gan_core.w_encoder import encoder_for
    from gan_core.w_encoder_train import EncoderTrainConfig, TwinEncoderConfig, train_encoder
    from landmark_core.config import to_dict

    settings = TwinEncoderConfig(channels=4, max_channels=8, hidden=16, train=EncoderTrainConfig(steps=2, batch=2))
    w_avg, w_std = mean_w(generator=generator, n_samples=64)
    encoder = encoder_for(config=settings.shape_for(generator), w_avg=w_avg, seed=0)
    train_encoder(encoder=encoder, generator=generator, w_std=w_std, config=settings.train)
    trained = weights_dir.parent / "trained"
    trained.mkdir()
    torch.save(encoder.state_dict(), trained / "encoder.pt")
    (trained / "encoder.json").write_text(json.dumps(to_dict(settings)))
    return install_encoder(trained=trained, weights_dir=weights_dir)


def test_an_encoder_trained_for_another_generator_is_found_by_its_digest_and_checked(tmp_path):
    from tasks.published_weights import load_generator_for

    store, weights = Store(tmp_path / "store"), tmp_path / "weights"
    generator, _ = load_generator_for(config=PARAMS, weights_dir=None, device=torch.device("cpu"))
    digest = _installed_encoder(weights, generator)
    assert (weights / f"w-encoder-{digest[:16]}" / "encoder.pt").is_file()
    projector = dataclasses.replace(PARAMS.projector, init="encoder", stop_window=2, stop_tolerance=0.5)
    params = dataclasses.replace(PARAMS, projector=projector, encoder_sha256=digest)
    out, _ = project_stage(store=store, filtered=_filtered(store, 2), params=params, weights_dir=weights)
    assert out.metadata()["info"]["encoder"] == f"W+ encoder sha256 {digest[:16]} (trained for random)"
    assert (out.manifest()["steps_run"] < 12).all()
    other = dataclasses.replace(params, encoder_sha256="0" * 64)
    with pytest.raises(ValueError, match="no W\\+ encoder with sha256 0000"):
        project_stage(store=store, filtered=_filtered(store, 2), params=other, weights_dir=weights)
    with (weights / f"w-encoder-{digest[:16]}" / "encoder.pt").open("ab") as file:
        file.write(b"tampered")
    again = dataclasses.replace(params, projector=dataclasses.replace(projector, seed=1))  # a new key: loads again
    with pytest.raises(ValueError, match=f"encoder.pt: sha256 [0-9a-f]{{64}}, but the profile names {digest}"):
        project_stage(store=store, filtered=_filtered(store, 2), params=again, weights_dir=weights)


def test_discarded_faces_keep_only_their_loss_curve(tmp_path):
    store = Store(tmp_path)
    strict = ProjectorConfig(steps=12, w_avg_samples=256, discard_step=6, discard_loss=-1.0)
    params = dataclasses.replace(PARAMS, projector=strict)
    out, _ = project_stage(store=store, filtered=_filtered(store, 2), params=params)
    faces = out.manifest()
    assert faces["discarded"].all() and faces["latent_path"].isna().all() and faces["image_path"].isna().all()
    assert (faces["steps_run"] == 6).all()
    assert np.load(out.local_dir() / faces["losses_path"][0]).shape == (6,)
    assert out.metadata()["info"]["discarded"] == 2


def test_a_crash_keeps_the_faces_already_projected(tmp_path, monkeypatch):
    store = Store(tmp_path / "a")
    filtered = _filtered(store, 5)
    real, calls, crashed = project_module.project_batch, [], []

    def crashing(**kwargs):
        calls.append(kwargs["targets"].shape[0])
        if len(calls) == 2 and not crashed:
            crashed.append(True)
            raise RuntimeError("worker lost")
        return real(**kwargs)

    monkeypatch.setattr(project_module, "project_batch", crashing)
    with pytest.raises(RuntimeError, match="worker lost"):
        project_stage(store=store, filtered=filtered, params=PARAMS)
    assert calls == [2, 2]
    calls.clear()
    out, computed = project_stage(store=store, filtered=filtered, params=PARAMS)
    assert computed and calls == [2, 1]  # the first batch's two faces were not projected again
    assert out.metadata()["info"]["resumed_faces"] == 2

    clean_store = Store(tmp_path / "b")
    monkeypatch.setattr(project_module, "project_batch", real)
    clean, _ = project_stage(store=clean_store, filtered=_filtered(clean_store, 5), params=PARAMS)
    assert clean.key == out.key
    for a, b in zip(out.manifest()["latent_path"], clean.manifest()["latent_path"], strict=True):
        np.testing.assert_array_equal(np.load(out.local_dir() / a), np.load(clean.local_dir() / b))


def test_a_half_written_face_is_projected_again(tmp_path):
    store = Store(tmp_path)
    filtered = _filtered(store, 2)
    scratch = store.scratch("project", project.key(config=PARAMS, inputs={"filtered": filtered}))
    (scratch / "faces" / "img0__face_0").mkdir(parents=True)  # no result.json: never finished
    (scratch / "faces" / "img0__face_0" / "losses.npy").write_bytes(b"garbage")
    out, _ = project_stage(store=store, filtered=filtered, params=PARAMS)
    assert out.metadata()["info"]["resumed_faces"] == 0 and len(out.manifest()) == 2


def test_unreadable_aligned_images_are_quarantined_with_the_file_named(tmp_path):
    store = Store(tmp_path)
    out, _ = project_stage(store=store, filtered=_filtered(store, 3, broken=(1,)), params=PARAMS)
    assert list(out.manifest()["detection_id"]) == ["img0#0", "img2#2"]
    q = out.quarantine()
    assert list(q["detection_id"]) == ["img1#1"] and "aligned/img1__face_1.png: unreadable" in q["reason"][0]


def test_published_weights_must_be_fetched_first(tmp_path):
    store = Store(tmp_path)
    params = ProjectConfig(generator="ffhq-1024", perceptual="random", projector=PARAMS.projector)
    with pytest.raises(FileNotFoundError, match="eltrepro weights fetch ffhq-1024"):
        project_stage(store=store, filtered=_filtered(store, 1), params=params, weights_dir=tmp_path / "none")


def test_published_generator_file_is_used(tmp_path):
    """The code path for real weights, with a tiny rosinality-format file standing in for the FFHQ network."""
    from gan_core.stylegan2 import Generator
    from gan_core.stylegan2_config import TINY

    torch.manual_seed(0)
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save({"g_ema": Generator(TINY).state_dict()}, weights / "ffhq.pt")
    stand_in = {**WEIGHTS, "tiny-test": dataclasses.replace(WEIGHTS["ffhq-1024"], name="ffhq.pt")}
    store = Store(tmp_path / "store")
    params = ProjectConfig(
        generator="tiny-test", perceptual="random", batch_size=2, amp=False, projector=PARAMS.projector
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gan_core.published.WEIGHTS", stand_in)
        out, _ = project_stage(store=store, filtered=_filtered(store, 2), params=params, weights_dir=weights)
    info = out.metadata()["info"]
    assert "rosinality" in info["generator"] and info["meaningful"] is False  # LPIPS is still the stand-in
    assert len(out.manifest()) == 2


def test_fetch_weights_from_a_mirror_checks_digests_and_name_prefixes(tmp_path, monkeypatch):
    from tests.loopback import Loopback

    lin = b"lpips linear layers"
    entry = dataclasses.replace(WEIGHTS["lpips-vgg-lin"], sha256=hashlib.sha256(lin).hexdigest())
    monkeypatch.setitem(WEIGHTS, "lpips-vgg-lin", entry)
    mirror = Loopback()
    mirror.files["lpips_vgg_v0.1.pth"] = lin
    mirror.files["vgg16-397923af.pth"] = b"not torchvision's vgg16"
    try:
        report = fetch_weights(names=["lpips-vgg-lin"], dest=tmp_path, mirror=mirror.url)
        assert report.actions == {"lpips_vgg_v0.1.pth": "downloaded"}
        assert (tmp_path / "lpips_vgg_v0.1.pth").read_bytes() == lin
        again = fetch_weights(names=["lpips-vgg-lin"], dest=tmp_path, mirror=mirror.url)
        assert again.actions == {"lpips_vgg_v0.1.pth": "verified"}
        with pytest.raises(DownloadError, match="no sha256"):
            fetch_weights(names=["vgg16-imagenet"], dest=tmp_path, mirror=mirror.url)
        with pytest.raises(DownloadError, match="does not start with 397923af"):
            fetch_weights(names=["vgg16-imagenet"], dest=tmp_path, mirror=mirror.url, trust_first_download=True)
        assert not (tmp_path / "vgg16-397923af.pth").exists()
    finally:
        mirror.close()
    pins = json.loads((tmp_path / "checksums.json").read_text()) if (tmp_path / "checksums.json").exists() else {}
    assert "lpips_vgg_v0.1.pth" not in pins  # known digests are not pinned, they are checked


def test_one_shard_three_shards_and_unsharded_give_the_same_bytes(tmp_path):
    """Shards are cut on whole batches and each face's randomness comes from its id: the merged projection is the
    unsharded one, byte for byte, however the faces were cut."""
    outputs = {}
    for shard_faces in (0, 6, 2):  # unsharded; one shard; three shards of one batch each
        store = Store(tmp_path / f"shards-{shard_faces}")
        filtered = _filtered(store, 6, broken=(3,))  # a face that fails costs a quarantine row, not its shard
        outputs[shard_faces], _ = project.run(
            store=store, config=PARAMS, runtime=Runtime(shard_faces=shard_faces), filtered=filtered
        )
    assert len({out.key for out in outputs.values()}) == 1
    files = {n: output_bytes(o) for n, o in outputs.items()}
    assert files[0] == files[6] == files[2]
    assert sum(name.endswith("latent.npy") for name in files[0]) == 5
    assert outputs[2].quarantine()["detection_id"].tolist() == ["img3#3"]  # its shard-mate was projected
    assert [o.metadata()["info"].get("shards") for o in outputs.values()] == [None, 1, 3]
    shards = tmp_path / "shards-2" / "project.shard"
    assert len(list(shards.glob("*/stage.json"))) == 3  # each shard is an output of its own
    info = outputs[2].metadata()["info"]
    assert info["kept"] == 5 and info["projected_faces"] == 5 and "per_shard" in info  # seconds per face differ
