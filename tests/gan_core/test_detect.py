from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from gan_core.detect import DlibFaceDetector, default_predictor_path

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "data" / "ffhq" / "astronaut_reference.json").read_text())


@pytest.fixture(scope="module")
def detector():
    return DlibFaceDetector()


def test_dlib_finds_the_astronaut_with_the_recorded_landmarks(detector):
    found = detector.detect(image_rgb=skimage.data.astronaut())
    best = found[0]
    x0, y0, x1, y1 = REFERENCE["dlib_box"]
    assert best.box == (x0, y0, x1 + 1, y1 + 1) and best.pixels == 91 * 91
    assert np.abs(best.landmarks68 - (np.array(REFERENCE["landmarks68_dlib"]) + 0.5)).max() <= 1.0
    assert all(a.score >= b.score for a, b in zip(found, found[1:], strict=False))


def test_an_image_without_faces_gives_an_empty_list(detector):
    assert detector.detect(image_rgb=np.full((200, 200, 3), 127, np.uint8)) == []


def test_the_predictor_is_found_without_importing_face_recognition_models():
    assert default_predictor_path().name == "shape_predictor_68_face_landmarks.dat"
    with pytest.raises(RuntimeError):
        DlibFaceDetector(predictor_path=Path("/nonexistent/predictor.dat"))


def test_detectors_share_the_predictor_of_one_file_version_and_each_has_its_own_detector(detector, tmp_path):
    other = DlibFaceDetector(upsample=0)
    assert other._predictor is detector._predictor and other._detector is not detector._detector
    copy = shutil.copyfile(default_predictor_path(), tmp_path / "predictor.dat")
    first = DlibFaceDetector(predictor_path=copy)._predictor
    assert first is not detector._predictor and DlibFaceDetector(predictor_path=copy)._predictor is first
    os.utime(copy, ns=(0, 1_000_000_000))  # a new version of the file (its mtime): read again
    again = DlibFaceDetector(predictor_path=copy)
    assert again._predictor is not first
    face = again.detect(image_rgb=skimage.data.astronaut())[0]
    assert face.landmarks68.shape == (68, 2) and face.box == detector.detect(image_rgb=skimage.data.astronaut())[0].box
