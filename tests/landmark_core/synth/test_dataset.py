from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from landmark_core.headpose import estimate_head_pose
from landmark_core.synth.dataset import OCCLUSION_MIN_LANDMARKS, SYNTH_DIR, SynthConfig, synthesize_wflw
from landmark_core.wflw import (
    ATTRIBUTES,
    IMAGES_DIR,
    TEST_SUBSET_FILES,
    iter_lines,
    parse_rect_attr_line,
    rect_attr_path,
    subset_file_path,
)
from tests.conftest import SMALL


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _faces(root: Path, split: str):
    return [parse_rect_attr_line(line) for _, line in iter_lines(rect_attr_path(root, split))]


def test_layout_is_wflw(synth_root):
    for split in ("train", "test"):
        assert rect_attr_path(synth_root, split).is_file()
    for subset in TEST_SUBSET_FILES:
        assert subset_file_path(synth_root, subset).is_file()
    faces = _faces(synth_root, "train")
    assert len(faces) >= SMALL.train  # some images hold two faces
    for face in faces:
        assert (synth_root / IMAGES_DIR / face.image).is_file()
        assert "--" in face.image.split("/")[0]  # WIDER-style event folders
    config = json.loads((synth_root / SYNTH_DIR / "config.json").read_text())
    assert config["seed"] == SMALL.seed


def test_same_seed_same_bytes_any_worker_count(tmp_path):
    config = SynthConfig(train=5, test=3, seed=11)
    synthesize_wflw(out=tmp_path / "a", config=config, workers=1)
    synthesize_wflw(out=tmp_path / "b", config=config, workers=2)
    synthesize_wflw(out=tmp_path / "c", config=SynthConfig(train=5, test=3, seed=12), workers=1)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_sidecar_agrees_with_the_annotations(synth_root):
    for split in ("train", "test"):
        faces = _faces(synth_root, split)
        truth = pd.read_parquet(synth_root / SYNTH_DIR / f"truth_{split}.parquet")
        assert truth["line"].tolist() == list(range(1, len(faces) + 1))
        assert truth["image"].tolist() == [f.image for f in faces]
        for face, row in zip(faces, truth.itertuples(), strict=True):
            flags = dict(zip(ATTRIBUTES, face.attributes, strict=True))
            assert flags["occlusion"] == int(sum(row.occluded) >= OCCLUSION_MIN_LANDMARKS)
            if flags["pose"] == 0:
                assert abs(row.yaw) <= 33 and abs(row.pitch) <= 20 and abs(row.roll) <= 25
            mask = cv2.imread(str(synth_root / row.mask), cv2.IMREAD_GRAYSCALE)
            assert mask is not None and set(np.unique(mask)) <= {0, 255} and (mask > 0).any()
            x0, y0, x1, y1 = face.bbox
            assert x0 < x1 and y0 < y1


def test_landmarks_sit_on_the_drawn_face(synth_root):
    truth = pd.read_parquet(synth_root / SYNTH_DIR / "truth_test.parquet")
    inside = []
    for face, row in zip(_faces(synth_root, "test"), truth.itertuples(), strict=True):
        mask = cv2.imread(str(synth_root / row.mask), cv2.IMREAD_GRAYSCALE)
        dilated = cv2.dilate(mask, np.ones((7, 7), np.uint8))
        xy = np.clip(np.round(face.landmarks).astype(int), 0, np.array(mask.shape[::-1]) - 1)
        visible = ~np.asarray(row.occluded)
        inside.append((dilated[xy[visible, 1], xy[visible, 0]] > 0).mean())
    assert np.median(inside) > 0.9


def test_posit_recovers_the_rendered_pose(synth_root):
    truth = pd.read_parquet(synth_root / SYNTH_DIR / "truth_test.parquet")
    errors = []
    for face, row in zip(_faces(synth_root, "test"), truth.itertuples(), strict=True):
        pose = estimate_head_pose(landmarks=face.landmarks)  # the pose relative to the line of sight
        errors.append(np.abs([pose.yaw - row.yaw, pose.pitch - row.pitch, pose.roll - row.roll]))
    median = np.median(np.array(errors), axis=0)
    assert (median <= 3.0).all(), median


def test_conditions_change_the_picture(tmp_path):
    plain = SynthConfig(
        train=1,
        test=0,
        seed=5,
        p_pose=0,
        p_expression=0,
        p_illumination=0,
        p_makeup=0,
        p_occlusion=0,
        p_blur=0,
        p_two_faces=0,
    )
    blurred = SynthConfig(**{**plain.__dict__, "p_blur": 1.0})
    synthesize_wflw(out=tmp_path / "plain", config=plain)
    synthesize_wflw(out=tmp_path / "blur", config=blurred)
    a = cv2.imread(str(next((tmp_path / "plain" / IMAGES_DIR).rglob("*.jpg"))), cv2.IMREAD_GRAYSCALE)
    b = cv2.imread(str(next((tmp_path / "blur" / IMAGES_DIR).rglob("*.jpg"))), cv2.IMREAD_GRAYSCALE)
    sharpness = [cv2.Laplacian(x, cv2.CV_64F).var() for x in (a, b)]
    assert sharpness[1] < 0.5 * sharpness[0]
    assert _faces(tmp_path / "blur", "train")[0].attributes[ATTRIBUTES.index("blur")] == 1
    assert _faces(tmp_path / "plain", "train")[0].attributes == (0, 0, 0, 0, 0, 0)


@pytest.mark.slow
def test_dlib_finds_most_clean_frontal_faces(tmp_path):
    dlib = pytest.importorskip("dlib")
    config = SynthConfig(train=40, test=0, seed=21, p_pose=0, p_occlusion=0, p_blur=0, p_illumination=0, p_two_faces=0)
    synthesize_wflw(out=tmp_path, config=config, workers=2)
    detector = dlib.get_frontal_face_detector()
    found = []
    for face in _faces(tmp_path, "train"):
        image = cv2.cvtColor(cv2.imread(str(tmp_path / IMAGES_DIR / face.image)), cv2.COLOR_BGR2RGB)
        x0, y0, x1, y1 = face.bbox
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        rects = detector(image, 1)
        found.append(any(r.left() < centre[0] < r.right() and r.top() < centre[1] < r.bottom() for r in rects))
    assert np.mean(found) >= 0.8
