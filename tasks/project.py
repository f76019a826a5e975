"""The ``project`` stage: W+ projection of every kept aligned face into StyleGAN2 (thin adapter over gan_core).

Reads the filter stage's manifest, projects the aligned faces in batches and writes, per face, the 18x512 code
(``latent.npy``), the optimised noise maps (``noises.npz``), the render (``projected.png``) and the loss curve
(``losses.npy``); faces discarded at the early-discard step keep their loss curve only.

Resumable: each face is written to the store's scratch area the moment it is finished (``result.json`` last,
after an atomic rename), so a crash or a retry re-projects only the faces that were not finished. The stage's
output is published once every face is done.

Without published weights (the demo) the stage runs a small randomly initialised generator and the LPIPS
stand-in; its manifest info and the report say so: the mechanics run end to end, the pictures mean nothing.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from gan_core.perceptual import LPIPS, TINY_PERCEPTUAL, load_lpips
from gan_core.projector import Projection, ProjectorConfig, project
from gan_core.published import SHA256_PREFIXES, weight_file
from gan_core.stylegan2 import TINY, Generator, GeneratorConfig, mean_w
from gan_core.stylegan2_weights import load_generator
from landmark_core.download import DownloadError, FetchReport, fetch_files
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage, stage_key

PROJECT = StageSpec(name="project", version=1, modules=(
    "gan_core.stylegan2", "gan_core.upfirdn", "gan_core.stylegan2_weights", "gan_core.safe_pickle",
    "gan_core.perceptual", "gan_core.projector", "tasks.project"))  # fmt: skip
RANDOM = "random"
FACES_DIR = "projections"
RESULT = "result.json"
COLUMNS = ["detection_id", "wflw_face_id", "discarded", "lpips", "loss_at_discard_step", "final_loss", "steps_run",
           "latent_path", "noises_path", "image_path", "losses_path"]  # fmt: skip


@dataclass(frozen=True)
class ProjectParams:
    """What the project stage projects with.

    Attributes:
        generator: a published-weights name (``ffhq-1024``, see ``gan_core.published``) or ``random``: a
            randomly initialised generator of shape ``random_config`` (mechanics only, meaningless pictures).
        random_config: the shape of the random generator.
        random_seed: its initialisation seed (and the LPIPS stand-in's).
        perceptual: ``lpips-vgg`` (the published LPIPS-VGG, two files) or ``random`` (a tiny stand-in).
        projector: schedule, loss and early discard.
        batch_size: faces projected at once.
        amp: bfloat16 autocast on CUDA.
    """

    generator: str = "ffhq-1024"
    random_config: GeneratorConfig = TINY
    random_seed: int = 0
    perceptual: str = "lpips-vgg"
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    batch_size: int = 8
    amp: bool = True


def fetch_weights(*, names: list[str], dest: Path, mirror: str | None = None, sha256: dict[str, str] | None = None,
                  trust_first_download: bool = False, progress=None) -> FetchReport:  # fmt: skip
    """Download published weights into ``dest`` (resumable, verified; see ``landmark_core.download``).

    Raises:
        DownloadError: a download failed, a digest differs, or a digest prefix from the file name differs.
    """
    files = [weight_file(n) for n in names]
    report = fetch_files(files=files, dest=dest, mirror=mirror, sha256=sha256,
                         trust_first_download=trust_first_download, progress=progress)  # fmt: skip
    for name, remote in zip(names, files, strict=True):
        prefix = SHA256_PREFIXES.get(name)
        if prefix and not report.sha256[remote.name].startswith(prefix):
            (dest / remote.name).unlink(missing_ok=True)
            raise DownloadError(f"{remote.name}: sha256 {report.sha256[remote.name]} does not start with {prefix}")
    return report


def weights_path(weights_dir: Path | None, name: str) -> Path:
    """The local file of published weights ``name`` in ``weights_dir``; FileNotFoundError names the fetch command."""
    remote = weight_file(name)
    path = (weights_dir or Path(".")) / remote.name
    if weights_dir is None or not path.is_file():
        raise FileNotFoundError(f"{path}: published weights {name!r} not found; fetch them with "
                                f"`eltrepro weights fetch {name} --dest <dir>` and pass that folder")  # fmt: skip
    return path


def load_generator_for(*, params: ProjectParams, weights_dir: Path | None, device: torch.device):
    """The frozen generator the params ask for, and its description (``meaningful`` False for a random one)."""
    torch.manual_seed(params.random_seed)
    if params.generator == RANDOM:
        generator = Generator(params.random_config)
        about = {"generator": f"randomly initialised {params.random_config} (seed {params.random_seed})",
                 "meaningful": False}  # fmt: skip
    else:
        loaded = load_generator(weights_path(weights_dir, params.generator))
        generator, about = loaded.generator, {"generator": f"{params.generator} ({loaded.source})", "meaningful": True}
    return generator.eval().requires_grad_(False).to(device), about


def load_networks(*, params: ProjectParams, weights_dir: Path | None, device: torch.device):
    """The frozen generator and LPIPS the params ask for, and a description of them for the manifest info."""
    generator, about = load_generator_for(params=params, weights_dir=weights_dir, device=device)
    torch.manual_seed(params.random_seed + 1)
    if params.perceptual == RANDOM:
        perceptual = LPIPS(TINY_PERCEPTUAL)
        about["perceptual"] = "randomly initialised LPIPS stand-in (TINY_PERCEPTUAL)"
    else:
        perceptual = load_lpips(vgg_path=weights_path(weights_dir, "vgg16-imagenet"),
                                lin_path=weights_path(weights_dir, "lpips-vgg-lin"))  # fmt: skip
        about["perceptual"] = "LPIPS-VGG v0.1 (published weights)"
    about["meaningful"] = about["meaningful"] and params.perceptual != RANDOM
    if not about["meaningful"]:
        about["warning"] = ("projection ran without published weights: the pipeline mechanics ran end to end, "
                            "the projected pictures are not meaningful")  # fmt: skip
    return generator, perceptual.to(device), about


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
    (tmp / RESULT).write_text(json.dumps({
        "detection_id": face["detection_id"], "discarded": result.discarded, "lpips": result.lpips,
        "loss_at_discard_step": float(result.losses[step]), "final_loss": float(result.losses[-1]),
        "steps_run": result.steps_run}))  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _row(face_dir: str, done: dict, face: pd.Series) -> dict:
    kept = not done["discarded"]
    path = lambda name: f"{FACES_DIR}/{face_dir}/{name}" if kept else None  # noqa: E731
    return {**{k: done[k] for k in ("detection_id", "discarded", "lpips", "loss_at_discard_step", "final_loss",
                                    "steps_run")}, "wflw_face_id": face.get("wflw_face_id"),
            "latent_path": path("latent.npy"), "noises_path": path("noises.npz"), "image_path": path("projected.png"),
            "losses_path": f"{FACES_DIR}/{face_dir}/losses.npy"}  # fmt: skip


def project_stage(*, store: Store, filtered: StageOutput, params: ProjectParams = ProjectParams(),
                  weights_dir: Path | None = None, device: str | None = None) -> tuple[StageOutput, bool]:  # fmt: skip
    """Project every face the filter stage kept; resumes from the faces already finished.

    Args:
        store: the artifact store.
        filtered: the filter stage's output (``aligned_path`` per kept face).
        params: generator, perceptual network, projector settings.
        weights_dir: folder with the published weights the params name (not needed for ``random``).
        device: ``cuda``/``cpu``; None picks CUDA when available.
    """
    inputs = {"filtered": filtered}
    scratch = store.scratch(PROJECT.name, stage_key(spec=PROJECT, params=params, inputs=inputs)) / "faces"

    def compute(work: Path) -> StageResult:
        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        faces, folder = filtered.manifest(), filtered.local_dir()
        names = {d: Path(p).stem for d, p in zip(faces["detection_id"], faces["aligned_path"], strict=True)}
        todo = faces[[not (scratch / names[d] / RESULT).is_file() for d in faces["detection_id"]]]
        about, timing, quarantine = {"resumed_faces": len(faces) - len(todo)}, {"faces": 0, "seconds": 0.0}, []
        if len(todo):
            generator, perceptual, nets = load_networks(params=params, weights_dir=weights_dir, device=dev)
            about.update(nets)
            w_avg, w_std = mean_w(generator=generator, n_samples=params.projector.w_avg_samples)
            quarantine = _project_all(todo, folder, names, scratch, generator, perceptual, w_avg, w_std, params, timing)
        rows = []
        for _, face in faces.iterrows():
            result = scratch / names[face["detection_id"]] / RESULT
            if result.is_file():
                shutil.copytree(result.parent, work / FACES_DIR / names[face["detection_id"]])
                rows.append(_row(names[face["detection_id"]], json.loads(result.read_text()), face))
        manifest = pd.DataFrame(rows, columns=COLUMNS)
        discarded = int(manifest["discarded"].astype(bool).sum())
        per_face = timing["seconds"] / timing["faces"] if timing["faces"] else None
        about.update({"kept": len(manifest) - discarded, "discarded": discarded, "device": str(dev),
                      "seconds_per_face": per_face})  # fmt: skip
        return StageResult(manifest=manifest, quarantine=pd.DataFrame(quarantine, columns=["detection_id", "reason"]),
                           info=about)  # fmt: skip

    output, computed = run_stage(store=store, spec=PROJECT, params=params, inputs=inputs, compute=compute)
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return output, computed


def _project_all(todo, folder, names, scratch, generator, perceptual, w_avg, w_std, params, timing) -> list[dict]:
    """Project ``todo`` in batches, saving each face as soon as it is finished; returns the quarantine rows."""
    res, quarantine = generator.config.resolution, []
    loaded = []
    for _, face in todo.iterrows():
        try:
            loaded.append((face, _target(folder / face["aligned_path"], res)))
        except ValueError as error:
            quarantine.append({"detection_id": face["detection_id"], "reason": f"{face['aligned_path']}: {error}"})
    for start in range(0, len(loaded), params.batch_size):
        batch = loaded[start : start + params.batch_size]
        ids = [face["detection_id"] for face, _ in batch]

        def save(i: int, result: Projection, batch=batch) -> None:
            face = batch[i][0]
            save_face(folder=scratch / names[face["detection_id"]], result=result, face=face, config=params.projector)

        began = time.perf_counter()
        project(generator=generator, perceptual=perceptual, targets=torch.stack([t for _, t in batch]),
                w_avg=w_avg, w_std=w_std, config=params.projector, amp=params.amp, on_result=save,
                face_seeds=[zlib.crc32(i.encode()) for i in ids])  # fmt: skip
        timing["faces"] += len(batch)
        timing["seconds"] += time.perf_counter() - began
    return quarantine
