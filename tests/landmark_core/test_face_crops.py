"""Faces cropped and predicted from an image in memory give the evaluation's own landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from landmark_core.dataset import face_records
from landmark_core.face_crops import crop_faces, predict_crops
from landmark_core.geometry import invert
from landmark_core.predict import predict_landmarks, to_photo
from landmark_core.sampler import AugmentConfig
from landmark_core.train import build_model
from landmark_core.wflw_index import index_wflw
from tests.tiny import TINY_MODEL

CPU = torch.device("cpu")
AUGMENT = AugmentConfig(size=32)


@pytest.mark.parametrize("decoding", ["top1", "quarter_offset"])
def test_in_memory_crops_reproduce_the_evaluation(synth_root, decoding):
    faces = index_wflw(root=synth_root).faces
    faces = faces[faces["split"] == "test"].head(12)
    records = face_records(root=synth_root, faces=faces)
    model = build_model(TINY_MODEL, seed=3, device=CPU)
    expected = predict_landmarks(model=model, records=records, augment=AUGMENT, device=CPU, decoding=decoding)
    got = []
    for record in records:
        image = cv2.imread(str(record.image_path))
        crops, matrices = crop_faces(image=image, boxes=np.array([record.box]), augment=AUGMENT)
        assert crops.shape == (1, 3, 32, 32) and crops.dtype == np.uint8
        _, points = predict_crops(model=model, crops=crops, decoding=decoding, device=CPU)
        got.append(to_photo(points=points, matrices=matrices)[0])
    np.testing.assert_allclose(np.stack(got), expected, atol=1e-4)


def test_several_boxes_of_one_photo_and_none():
    image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 90.0, 100.0], [150.0, 40.0, 260.0, 150.0]])
    crops, matrices = crop_faces(image=image, boxes=boxes, augment=AUGMENT)
    assert crops.shape == (2, 3, 32, 32)
    centre = np.array([[[50.0, 60.0]], [[205.0, 95.0]]])  # each box's centre lands at the crop's centre
    in_crop = centre @ matrices[:, :2, :2].transpose(0, 2, 1) + matrices[:, None, :2, 2]
    np.testing.assert_allclose(in_crop[:, 0], [[16.0, 16.0], [16.0, 16.0]], atol=1e-6)
    np.testing.assert_allclose(to_photo(points=in_crop, matrices=matrices), centre, atol=1e-9)
    np.testing.assert_allclose(invert(matrices[0]) @ matrices[0], np.eye(3), atol=1e-9)
    empty, none = crop_faces(image=image, boxes=np.zeros((0, 4)), augment=AUGMENT)
    assert empty.shape == (0, 3, 32, 32) and none.shape == (0, 3, 3)
    heatmaps, points = predict_crops(
        model=build_model(TINY_MODEL, seed=0, device=CPU), crops=empty, decoding="top1", device=CPU
    )
    assert points.shape == (0, 98, 2)
