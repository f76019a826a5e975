"""The ``project`` stage: W+ projection of every kept aligned face into StyleGAN2.

Reads the filter stage's manifest, projects the aligned faces in batches and writes, per face, the 18x512 code
(``latent.npy``), the optimised noise maps (``noises.npz``), the render (``projected.png``) and the loss curve
(``losses.npy``); faces discarded at the early-discard step keep their loss curve only.

Resumable: each face is written to the scratch area of the stage key the moment it is finished
(``result.json`` last, after an atomic rename), so a crash or a retry re-projects only the faces that were not
finished. The stage's output is published once every face is done.

The demo projects with the twin models the project trained itself (``twin``: a 64 px generator and a distance
on the twin landmark model's features); its info and the report name them. With ``random`` stand-ins instead
the info and the report say the mechanics ran end to end and the pictures mean nothing.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from gan_core.perceptual import LPIPS, TINY_PERCEPTUAL, load_lpips
from gan_core.projector import Projection
from gan_core.projector import project as project_batch
from gan_core.projector_config import ProjectorConfig
from gan_core.stylegan2 import mean_w
from kit.stage import StageContext, stage
from kit.store import StageOutput, StageResult
from landmark_core.device import resolve_device
from tasks.published_weights import RANDOM, TWIN, TWIN_SOURCE, ProjectConfig, load_generator_for, weights_path

FACES_DIR = "projections"
RESULT = "result.json"
COLUMNS = [
    "detection_id",
    "wflw_face_id",
    "discarded",
    "lpips",
    "loss_at_discard_step",
    "final_loss",
    "steps_run",
    "generator_forwards",
    "generator_backwards",
    "latent_path",
    "noises_path",
    "image_path",
    "losses_path",
]
# What each face's result.json holds: every column but the WFLW face id and the file paths
RESULT_KEYS = tuple(c for c in COLUMNS if c != "wflw_face_id" and not c.endswith("_path"))


def load_networks(*, config: ProjectConfig, weights_dir: Path | None, device: torch.device):
    """The frozen generator and LPIPS the config asks for, the W+ encoder with ``init = "encoder"`` (else None),
    and a description of them for the stage info."""
    generator, about = load_generator_for(config=config, weights_dir=weights_dir, device=device)
    torch.manual_seed(config.random_seed + 1)
    if config.perceptual == RANDOM:
        perceptual = LPIPS(TINY_PERCEPTUAL)
        about["perceptual"] = "randomly initialised LPIPS stand-in (TINY_PERCEPTUAL)"
    elif config.perceptual == TWIN:
        from gan_core.twin_models import load_committed_landmarks
        from gan_core.twin_perceptual import TwinPerceptual

        perceptual = TwinPerceptual(load_committed_landmarks()[0])
        about["perceptual"] = f"twin distance: LPIPS's recipe on the twin landmark model ({TWIN_SOURCE}landmarks.pt)"
    else:
        perceptual = load_lpips(
            vgg_path=weights_path(weights_dir, "vgg16-imagenet"), lin_path=weights_path(weights_dir, "lpips-vgg-lin")
        )
        about["perceptual"] = "LPIPS-VGG v0.1 (published weights)"
    about["meaningful"] = about["meaningful"] and config.perceptual != RANDOM
    encoder = load_encoder(config=config, generator=generator, weights_dir=weights_dir, about=about)
    encoder = encoder.to(device) if encoder is not None else None
    if not about["meaningful"]:
        about["warning"] = (
            "projection ran without published weights: the pipeline mechanics ran end to end, "
            "the projected pictures are not meaningful"
        )
    return generator, perceptual.to(device), encoder, about


def load_encoder(*, config: ProjectConfig, generator, weights_dir: Path | None, about: dict):
    """The W+ encoder ``init = "encoder"`` starts from (None with ``mean``): the committed one for the twin GAN,
    else the installed one ``encoder_sha256`` names; a setting that cannot work is one line."""
    if config.projector.init == "mean":
        if config.encoder_sha256:
            raise ValueError('encoder_sha256 is set but projector.init = "mean" does not use an encoder')
        return None
    if config.generator == TWIN:
        if config.encoder_sha256:
            raise ValueError("encoder_sha256: the twin GAN's encoder is the committed one; leave it unset")
        from gan_core.twin_models import load_committed_encoder

        about["encoder"] = f"twin W+ encoder ({TWIN_SOURCE}encoder.pt)"
        return load_committed_encoder(generator=generator)
    if not config.encoder_sha256:
        raise ValueError(
            f'projector.init = "encoder": set encoder_sha256 to the digest of a W+ encoder trained for generator '
            f'{config.generator!r} (`eltrepro gan train-encoder`, a GPU job), or use init = "mean"'
        )
    from gan_core.trained_encoder import load_trained_encoder

    about["encoder"] = f"W+ encoder sha256 {config.encoder_sha256[:16]} (trained for {config.generator})"
    return load_trained_encoder(weights_dir=weights_dir, sha256=config.encoder_sha256, generator=generator)


def _target(path: Path, resolution: int) -> torch.Tensor:
    """An aligned face as ``[3, R, R]`` in [-1, 1]."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("unreadable aligned image")
    if image.shape[0] != resolution:
        image = cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(rgb).permute(2, 0, 1)


def _to_png(image: torch.Tensor) -> np.ndarray:
    rgb = ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def save_face(*, folder: Path, result: Projection, face: pd.Series, config: ProjectorConfig) -> None:
    """Write one face's projection to ``folder`` atomically (a temp folder renamed into place)."""
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(parents=True)
    np.save(tmp / "losses.npy", result.losses.astype(np.float32))
    if not result.discarded:
        np.save(tmp / "latent.npy", result.latent.float().numpy())
        np.savez(tmp / "noises.npz", **{f"noise_{i}": n.float().numpy() for i, n in enumerate(result.noises)})
        cv2.imwrite(str(tmp / "projected.png"), _to_png(result.image))
    step = min(config.discard_step, len(result.losses)) - 1
    summary = {
        "detection_id": face["detection_id"],
        "discarded": result.discarded,
        "lpips": result.lpips,
        "loss_at_discard_step": float(result.losses[step]),
        "final_loss": float(result.losses[-1]),
        "steps_run": result.steps_run,
        "generator_forwards": result.forwards,
        "generator_backwards": result.backwards,
    }
    (tmp / RESULT).write_text(json.dumps(summary))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _row(face_dir: str, done: dict, face: pd.Series) -> dict:
    kept = not done["discarded"]

    def path(name: str) -> str | None:
        return f"{FACES_DIR}/{face_dir}/{name}" if kept else None

    return {
        **{k: done[k] for k in RESULT_KEYS},
        "wflw_face_id": face.get("wflw_face_id"),
        "latent_path": path("latent.npy"),
        "noises_path": path("noises.npz"),
        "image_path": path("projected.png"),
        "losses_path": f"{FACES_DIR}/{face_dir}/losses.npy",
    }


@stage(
    version=1,
    gpu=True,
    shard_by="filtered",
    sum_info=("resumed_faces", "kept", "discarded", "projection_seconds", "projected_faces"),
)
def project(*, config: ProjectConfig, ctx: StageContext, filtered: StageOutput) -> StageResult:
    """Project every face the filter stage kept (or a shard of them); resumes from the faces already finished.

    Each face's randomness comes from its detection id, never from its place in a batch or a shard.

    ``ctx.runtime`` gives the device and the folder of the published weights the config names (not needed
    for ``random`` networks).
    """
    device = resolve_device(ctx.runtime.device)
    scratch = ctx.scratch / "faces"
    faces, folder = filtered.manifest(), filtered.local_dir()
    names = {d: Path(p).stem for d, p in zip(faces["detection_id"], faces["aligned_path"], strict=True)}
    todo = faces[[not (scratch / names[d] / RESULT).is_file() for d in faces["detection_id"]]]
    about, timing, quarantine = {"resumed_faces": len(faces) - len(todo)}, {"faces": 0, "seconds": 0.0}, []
    if len(todo):
        networks = load_networks(config=config, weights_dir=ctx.runtime.weights(), device=device)
        about.update(networks[3])
        resumed = len(faces) - len(todo)

        def report(finished: int) -> None:
            ctx.report((resumed + finished) / len(faces))

        quarantine = _project_all(todo, folder, names, scratch, networks[:3], config, timing, report)
    rows = []
    for _, face in faces.iterrows():
        result = scratch / names[face["detection_id"]] / RESULT
        if result.is_file():
            shutil.copytree(result.parent, ctx.work / FACES_DIR / names[face["detection_id"]])
            rows.append(_row(names[face["detection_id"]], json.loads(result.read_text()), face))
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    discarded = int(manifest["discarded"].astype(bool).sum())
    per_face = timing["seconds"] / timing["faces"] if timing["faces"] else None
    about.update(
        {
            "kept": len(manifest) - discarded,
            "discarded": discarded,
            "device": str(device),
            "seconds_per_face": per_face,
            "projection_seconds": timing["seconds"],
            "projected_faces": timing["faces"],
        }
    )
    return StageResult(
        manifest=manifest, quarantine=pd.DataFrame(quarantine, columns=["detection_id", "reason"]), info=about
    )


def _project_all(todo, folder, names, scratch, networks, config: ProjectConfig, timing, report) -> list[dict]:
    """Project ``todo`` in batches, saving each face as soon as it is finished (``report`` gets the number of
    faces finished so far); returns the quarantine rows.

    A face's batch is its row's (row // batch_size, the rows of the manifest ``todo`` was taken from), whatever
    else is in ``todo``: a face unreadable, finished before a crash or in another shard never moves another
    face into another batch (batched kernels may round differently for another batch)."""
    generator, perceptual, encoder = networks
    w_avg, w_std = mean_w(generator=generator, n_samples=config.projector.w_avg_samples)
    res, quarantine, batches, finished = generator.config.resolution, [], {}, [0]
    for position, face in todo.iterrows():  # a face's batch is fixed by its row: position // batch_size
        try:
            loaded = (face, _target(folder / face["aligned_path"], res))
            batches.setdefault(position // config.batch_size, []).append(loaded)
        except ValueError as error:
            quarantine.append({"detection_id": face["detection_id"], "reason": f"{face['aligned_path']}: {error}"})
    for batch in batches.values():
        ids = [face["detection_id"] for face, _ in batch]

        def save(i: int, result: Projection, batch=batch) -> None:
            face = batch[i][0]
            save_face(folder=scratch / names[face["detection_id"]], result=result, face=face, config=config.projector)
            finished[0] += 1
            report(finished[0])

        began = time.perf_counter()
        targets = torch.stack([t for _, t in batch])
        start = None
        if encoder is not None:
            with torch.no_grad():
                start = encoder(targets.to(w_avg.device))[0]
        project_batch(
            generator=generator,
            perceptual=perceptual,
            targets=targets,
            start=start,
            w_avg=w_avg,
            w_std=w_std,
            config=config.projector,
            amp=config.amp,
            on_result=save,
            face_seeds=[zlib.crc32(i.encode()) for i in ids],
        )
        timing["faces"] += len(batch)
        timing["seconds"] += time.perf_counter() - began
    return quarantine
