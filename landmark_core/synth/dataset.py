"""The synthetic WFLW twin: a dataset in the exact WFLW on-disk layout, with known pose and occlusion.

Layout written under ``out``::

    WFLW_images/<event>/<name>.jpg
    WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt
    WFLW_annotations/list_98pt_test/list_98pt_test{,_largepose,...}.txt
    WFLW_synth/truth_{train,test}.parquet   sidecar: true pose, occluded landmarks, mask path per face
    WFLW_synth/masks/<event>/<name>_<face>.png   visible face-skin mask (face region minus occluders)
    WFLW_synth/config.json

Each image is drawn from its own generator seeded by (seed, split, image number), so the output is the
same for a seed whatever the number of worker processes.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
import pandas as pd
from pydantic import Field

from landmark_core.synth import wflw_shape
from landmark_core.synth.face import Expression, Identity, face_shape
from landmark_core.synth.render import Appearance, FaceSpec, Lighting, project_landmarks, render_face
from landmark_core.synth.scene import OCCLUDER_KINDS, Occluder, background, blur, draw_occluder, occluder_mask
from landmark_core.wflw import ATTRIBUTES, IMAGES_DIR, SPLITS, WflwFace, write_wflw_annotations

SYNTH_DIR = "WFLW_synth"
EVENTS: tuple[str, ...] = (
    "0--Parade",
    "2--Demonstration",
    "4--Dancing",
    "9--Press_Conference",
    "12--Group",
    "13--Interview",
    "20--Family_Group",
    "29--Students_Schoolkids",
    "37--Soccer",
    "51--Dresses",
)
OCCLUSION_MIN_LANDMARKS = 10
TWIN_ONLY = ("p_two_faces", "min_face_width", "max_face_width")  # besides train and test (checked apart)


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of the synthetic twin.

    The condition rates default to WFLW's test-split rates (pose 13 %, expression 13 %, illumination 28 %,
    make-up 8 %, occlusion 29 %, blur 31 %).

    Attributes:
        shape: ``"twin"``, the small demo twin (``train``/``test`` photos of 480-720 px, faces
            ``min_face_width``-``max_face_width`` px, one or two per photo); or ``"wflw"``, shaped like the real
            WFLW (``landmark_core.synth.wflw_shape``): 7,500 train and 2,500 test faces times ``fraction``,
            1,024-px-wide photos of WFLW's heights, WFLW's face sizes, one to six faces per photo.
        fraction: the share of WFLW's size the ``"wflw"`` shape renders (1.0 = 10,000 faces).
        p_two_faces, min_face_width, max_face_width: the twin's faces per photo and face sizes; with
            ``"wflw"`` (which draws both from WFLW) they must keep their defaults, as ``train`` and ``test`` must.
    """

    shape: Literal["twin", "wflw"] = "twin"
    fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    train: Annotated[int, Field(ge=1)] = 600
    test: Annotated[int, Field(ge=0)] = 200
    seed: Annotated[int, Field(ge=0)] = 0
    p_pose: Annotated[float, Field(ge=0.0, le=1.0)] = 0.13
    p_expression: Annotated[float, Field(ge=0.0, le=1.0)] = 0.13
    p_illumination: Annotated[float, Field(ge=0.0, le=1.0)] = 0.28
    p_makeup: Annotated[float, Field(ge=0.0, le=1.0)] = 0.08
    p_occlusion: Annotated[float, Field(ge=0.0, le=1.0)] = 0.29
    p_blur: Annotated[float, Field(ge=0.0, le=1.0)] = 0.31
    p_two_faces: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    min_face_width: Annotated[float, Field(gt=0.0)] = 110.0
    max_face_width: Annotated[float, Field(gt=0.0)] = 260.0
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 92

    def __post_init__(self) -> None:
        if self.shape == "twin" and self.fraction != 1.0:
            raise ValueError("fraction sizes the 'wflw' shape; the twin's size is train and test (photos)")
        if self.shape == "wflw" and (self.train, self.test) != (600, 200):
            raise ValueError("train and test count the twin's photos; shape = 'wflw' is sized by fraction")
        twin_only = [f for f in fields(self) if f.name in TWIN_ONLY and getattr(self, f.name) != f.default]
        if self.shape == "wflw" and twin_only:
            named = ", ".join(f"{f.name} = {getattr(self, f.name)!r}" for f in twin_only)
            raise ValueError(
                f"{named}: the 'twin' shape's setting(s); shape = 'wflw' draws the faces per photo and the face "
                "sizes from WFLW"
            )

    def faces_per_photo(self, split: str) -> list[int]:
        """Faces of each photo of ``split`` in the ``"wflw"`` shape (drawn from the seed alone); [] for the twin."""
        if self.shape == "twin":
            return []
        rng = np.random.default_rng([self.seed, SPLITS.index(split), 7_919])
        return wflw_shape.faces_per_photo(rng=rng, faces=wflw_shape.split_faces(fraction=self.fraction)[split])


@dataclass(frozen=True)
class _Job:
    config: SynthConfig
    split: str
    number: int
    out: str
    faces: int = 0  # planned faces of a "wflw"-shaped photo


def _pose(rng: np.random.Generator, large: bool) -> tuple[float, float, float]:
    if not large:
        return tuple(float(np.clip(rng.normal(0, s), -m, m)) for s, m in ((14, 33), (8, 20), (8, 25)))
    axis = rng.integers(3)
    yaw, pitch, roll = rng.normal(0, 10), rng.normal(0, 6), rng.normal(0, 6)
    sign = rng.choice([-1.0, 1.0])
    if axis == 0:
        yaw = sign * rng.uniform(42, 70)
    elif axis == 1:
        pitch = sign * rng.uniform(26, 40)
    else:
        roll = sign * rng.uniform(38, 60)
    return float(yaw), float(pitch), float(roll)


def _appearance(rng: np.random.Generator, makeup: bool) -> Appearance:
    tone = rng.uniform(0.25, 1.0)
    skin = np.array([0.45 + 0.45 * tone, 0.3 + 0.42 * tone, 0.22 + 0.38 * tone]) * rng.uniform(0.92, 1.05, 3)
    hair = rng.choice([[0.08, 0.06, 0.05], [0.25, 0.15, 0.08], [0.55, 0.4, 0.2], [0.4, 0.38, 0.36], [0.15, 0.1, 0.1]])
    iris = rng.choice([[0.25, 0.15, 0.07], [0.15, 0.3, 0.5], [0.2, 0.35, 0.2], [0.1, 0.07, 0.05]])
    lips = skin * np.array([1.0, 0.72, 0.72])
    shadow = None
    if makeup:
        lips = rng.choice([[0.75, 0.05, 0.12], [0.6, 0.05, 0.35], [0.45, 0.05, 0.2], [0.85, 0.3, 0.35]])
        shadow = tuple(float(v) for v in rng.choice([[0.3, 0.2, 0.55], [0.15, 0.35, 0.6], [0.5, 0.35, 0.2]]))
    return Appearance(
        skin=tuple(float(v) for v in np.clip(skin, 0, 1)),
        hair=tuple(float(v) for v in hair),
        iris=tuple(float(v) for v in iris),
        lips=tuple(float(v) for v in np.clip(lips, 0, 1)),
        clothes=tuple(float(v) for v in rng.uniform(0.05, 0.9, 3)),
        bald=bool(rng.random() < 0.08),
        eyeshadow=shadow,
        blush=bool(makeup and rng.random() < 0.6),
    )


def _lighting(rng: np.random.Generator, harsh: bool) -> Lighting:
    if harsh:
        azimuth = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(45, 80))
        elevation = np.deg2rad(rng.uniform(-20, 40))
        ambient, diffuse = rng.uniform(0.12, 0.3), rng.uniform(0.8, 1.15)
    else:
        azimuth, elevation = np.deg2rad(rng.uniform(-25, 25)), np.deg2rad(rng.uniform(0, 35))
        ambient, diffuse = rng.uniform(0.45, 0.6), rng.uniform(0.4, 0.55)
    direction = (np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation))
    return Lighting(direction=tuple(float(v) for v in direction), ambient=float(ambient), diffuse=float(diffuse))


def _expression(rng: np.random.Generator, strong: bool) -> Expression:
    if not strong:
        return Expression(mouth_open=rng.uniform(0, 0.1), smile=rng.uniform(0, 0.25), brow_raise=rng.uniform(0, 0.2))
    kind = rng.integers(3)
    if kind == 0:  # surprise
        return Expression(mouth_open=rng.uniform(0.6, 1.0), brow_raise=rng.uniform(0.6, 1.0))
    if kind == 1:  # laugh
        return Expression(mouth_open=rng.uniform(0.35, 0.8), smile=rng.uniform(0.7, 1.0), squint=rng.uniform(0.2, 0.5))
    return Expression(smile=rng.uniform(0.8, 1.0), brow_raise=rng.uniform(0.0, 0.4), squint=rng.uniform(0.3, 0.6))


def _identity(rng: np.random.Generator) -> Identity:
    return Identity(
        width=rng.uniform(0.92, 1.08),
        height=rng.uniform(0.93, 1.08),
        eye_spacing=rng.uniform(0.94, 1.06),
        nose_length=rng.uniform(0.9, 1.1),
        mouth_width=rng.uniform(0.9, 1.12),
        jitter_seed=int(rng.integers(2**31)),
        jitter=0.008,
    )


def _bbox(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    lo, hi = landmarks.min(0), landmarks.max(0)
    pad = 0.05 * (hi - lo)
    x0, y0 = np.floor(lo - pad)
    x1, y1 = np.ceil(hi + pad)
    return int(max(x0, 0)), int(max(y0, 0)), int(min(x1, width - 1)), int(min(y1, height - 1))


def _render_image(job: _Job) -> list[dict]:
    """Draw one image with one or two faces; write the JPEG and masks; return one record per face."""
    cfg = job.config
    rng = np.random.default_rng([cfg.seed, SPLITS.index(job.split), job.number])
    if cfg.shape == "wflw":
        n_faces = job.faces
        width, height, widths = _wflw_photo(rng, n_faces)
    else:
        n_faces = 2 if rng.random() < cfg.p_two_faces else 1
        width, height = int(rng.integers(480, 720)), int(rng.integers(420, 640))
    image = background(rng=rng, width=width, height=height)
    focal = float(max(width, height) * rng.uniform(0.9, 1.4))
    flags = {name: rng.random() < getattr(cfg, f"p_{name}") for name in ATTRIBUTES}
    faces, drawn = [], []
    max_width = min(cfg.max_face_width, 0.42 * width / n_faces, 0.42 * height)
    for k in range(n_faces):
        face_flags = dict(flags) if k == 0 else {name: rng.random() < getattr(cfg, f"p_{name}") for name in ATTRIBUTES}
        face_flags["blur"] = flags["blur"]
        if cfg.shape == "wflw":
            face_width, centre = widths[k], _wflw_centre(rng, k, n_faces, width, height, widths[k])
        else:
            face_width = float(rng.uniform(min(cfg.min_face_width, max_width * 0.8), max_width))
            slot = (k + 0.5) * width / n_faces
            centre = (float(slot + rng.uniform(-0.08, 0.08) * width / n_faces), float(rng.uniform(0.42, 0.58) * height))
        yaw, pitch, roll = _pose(rng, face_flags["pose"])
        expression = _expression(rng, face_flags["expression"])
        spec = FaceSpec(
            shape=face_shape(identity=_identity(rng), expression=expression),
            yaw=yaw,
            pitch=pitch,
            roll=roll,
            center=centre,
            face_width=face_width,
            appearance=_appearance(rng, face_flags["makeup"]),
            lighting=_lighting(rng, face_flags["illumination"]),
            mouth_open=expression.mouth_open,
        )
        if cfg.shape == "wflw":
            spec = _with_box_width(spec, face_width, width, height, focal)
        rendered = render_face(image=image, spec=spec, focal=focal, texture_seed=int(rng.integers(2**31)))
        drawn.append((spec, rendered, face_flags, expression))
    for spec, rendered, face_flags, expression in drawn:
        occluded = np.zeros(98, bool)
        face_mask = rendered.face_mask.copy()
        if face_flags["occlusion"]:
            occluded, face_mask = _occlude(image, rng, rendered, face_mask)
        face_flags["occlusion"] = bool(occluded.sum() >= OCCLUSION_MIN_LANDMARKS)
        faces.append((spec, rendered, face_flags, expression, occluded, face_mask))
    if flags["blur"]:
        image = blur(image=image, rng=rng, face_width=float(np.mean([f[0].face_width for f in faces])))
    return _write_image(job, image, faces, focal)


def _grid(n_faces: int) -> tuple[int, int]:
    """(columns, rows) of the slots a photo's faces sit in."""
    cols = min(n_faces, 3)
    return cols, math.ceil(n_faces / cols)


def _wflw_photo(rng: np.random.Generator, n_faces: int) -> tuple[int, int, list[float]]:
    """A WFLW-shaped photo's width, height and its faces' landmark-box widths.

    A face keeps its drawn size unless its slot is narrower than two face widths (several big faces in one
    photo); the photo is made tall enough for each face's head and shoulders (1.9 face widths per row).
    """
    width, height = wflw_shape.photo_size(rng=rng)
    cols, rows = _grid(n_faces)
    widths = [min(wflw_shape.face_width(rng=rng), 0.5 * width / cols) for _ in range(n_faces)]
    return width, max(height, math.ceil(1.9 * rows * max(widths))), widths


def _wflw_centre(rng, k: int, n_faces: int, width: int, height: int, face_width: float) -> tuple[float, float]:
    """Where face ``k`` of a WFLW-shaped photo sits: anywhere in its slot, at least 0.6 face widths inside it."""
    cols, rows = _grid(n_faces)
    slot_w, slot_h = width / cols, height / rows
    x0, y0 = (k % cols) * slot_w, (k // cols) * slot_h
    margin_x, margin_y = min(0.6 * face_width, slot_w / 2), min(0.8 * face_width, slot_h / 2)
    x = rng.uniform(x0 + margin_x, x0 + slot_w - margin_x) if slot_w > 2 * margin_x else x0 + slot_w / 2
    y = rng.uniform(y0 + margin_y, y0 + slot_h - margin_y) if slot_h > 2 * margin_y else y0 + slot_h / 2
    return float(x), float(y)


def _with_box_width(spec: FaceSpec, box_width: float, width: int, height: int, focal: float) -> FaceSpec:
    """``spec`` scaled so its 98-landmark box is ``box_width`` px wide (WFLW's face-size fact is about that box)."""
    drawn = float(np.ptp(project_landmarks(spec=spec, width=width, height=height, focal=focal)[:, 0]))
    return replace(spec, face_width=spec.face_width * box_width / max(drawn, 1e-6))


def _occlude(image, rng, rendered, face_mask) -> tuple[np.ndarray, np.ndarray]:
    kind = str(rng.choice(OCCLUDER_KINDS))
    colour = tuple(float(v) for v in rng.uniform(0.05, 0.95, 3))
    anchor = int(rng.choice([54, 16, 64, 68, 85, 8, 24, 38, 46]))
    occluder = Occluder(
        kind=kind, colour=colour, anchor=anchor, size=float(rng.uniform(0.4, 0.7)), angle=float(rng.uniform(0, 180))
    )
    mask = occluder_mask(occluder=occluder, landmarks=rendered.landmarks, shape=image.shape[:2])
    draw_occluder(image=image, mask=mask, colour=colour, rng=rng)
    h, w = mask.shape
    xy = np.clip(np.round(rendered.landmarks).astype(int), [0, 0], [w - 1, h - 1])
    occluded = mask[xy[:, 1], xy[:, 0]] > 0.5
    return occluded, face_mask & (mask < 0.5)


def _write_image(job: _Job, image: np.ndarray, faces: list, focal: float) -> list[dict]:
    out = Path(job.out)
    event = EVENTS[job.number % len(EVENTS)]
    stem = f"{event.split('--')[0]}_{event.split('--')[1]}_synth_{job.split}_{job.number}"
    relative = f"{event}/{stem}.jpg"
    path = out / IMAGES_DIR / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, job.config.jpeg_quality]):
        raise OSError(f"could not write {path}")
    height, width = image.shape[:2]
    records = []
    for k, (spec, rendered, flags, expression, occluded, face_mask) in enumerate(faces):
        mask_rel = f"{SYNTH_DIR}/masks/{event}/{stem}_{k}.png"
        (out / mask_rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / mask_rel), face_mask.astype(np.uint8) * 255)
        face = WflwFace(
            landmarks=rendered.landmarks,
            bbox=_bbox(rendered.landmarks, width, height),
            attributes=tuple(int(flags[name]) for name in ATTRIBUTES),
            image=relative,
        )
        records.append(
            {
                "face": face,
                "image": relative,
                "face_index": k,
                "yaw": spec.yaw,
                "pitch": spec.pitch,
                "roll": spec.roll,
                "focal": focal,
                "face_width": spec.face_width,
                "occluded": occluded.tolist(),
                "mask": mask_rel,
                **{f"expr_{key}": float(v) for key, v in asdict(expression).items()},
            }
        )
    return records


def _jobs(config: SynthConfig, split: str, out: Path) -> list[_Job]:
    """One job per photo of ``split``."""
    if config.shape == "wflw":
        return [_Job(config, split, i, str(out), faces=n) for i, n in enumerate(config.faces_per_photo(split))]
    return [_Job(config, split, i, str(out)) for i in range(getattr(config, split))]


def synthesize_wflw(
    *,
    out: Path,
    config: SynthConfig = SynthConfig(),
    workers: int = 1,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, int]:
    """Render the synthetic twin into ``out`` (see the module docstring for the layout).

    Args:
        out: destination folder (created; existing files with the same names are overwritten).
        config: dataset size, seed and condition rates.
        workers: processes to render with (the output does not depend on it).
        on_progress: called with the fraction of images rendered.

    Returns:
        Number of faces written per split.
    """
    out = Path(out)
    jobs = {split: _jobs(config, split, out) for split in ("train", "test")}
    total = max(1, sum(len(j) for j in jobs.values()))
    results: dict[str, list[list[dict]]] = {split: [] for split in jobs}
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else contextlib.nullcontext() as pool:
        for split, split_jobs in jobs.items():
            rendered = pool.map(_render_image, split_jobs, chunksize=8) if pool else map(_render_image, split_jobs)
            for image in rendered:
                results[split].append(image)
                if on_progress is not None:
                    on_progress(sum(len(r) for r in results.values()) / total)
    faces_by_split, counts = {}, {}
    for split, per_image in results.items():
        records = [r for image_records in per_image for r in image_records]
        faces_by_split[split] = [r.pop("face") for r in records]
        truth = pd.DataFrame(records)
        truth.insert(0, "line", np.arange(1, len(truth) + 1))
        (out / SYNTH_DIR).mkdir(parents=True, exist_ok=True)
        truth.to_parquet(out / SYNTH_DIR / f"truth_{split}.parquet", index=False)
        counts[split] = len(records)
    write_wflw_annotations(out, faces_by_split)
    (out / SYNTH_DIR / "config.json").write_text(json.dumps(asdict(config), indent=2, sort_keys=True) + "\n")
    return counts
