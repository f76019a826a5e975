"""Aligned twin faces as a WFLW root: the project's index reads every face, with its true landmarks and box."""

from __future__ import annotations

import cv2
import numpy as np

from gan_core.twin_faces import aligned_twin_faces
from gan_core.twin_wflw import write_twin_wflw
from landmark_core.wflw_index import index_wflw, landmarks_array


def test_the_faces_are_indexed_with_their_true_landmarks(tmp_path):
    write_twin_wflw(out=tmp_path, train_seeds=[3, 4, 5], test_seeds=[1_500_000, 1_500_001], resolution=64)
    indexed = index_wflw(root=tmp_path)
    assert indexed.quarantine.empty and list(indexed.faces["split"]) == ["train"] * 3 + ["test"] * 2
    truth = aligned_twin_faces(seeds=[3, 4, 5], resolution=64)
    train = indexed.faces[indexed.faces["split"] == "train"]
    assert np.allclose(landmarks_array(train), truth.landmarks, atol=1e-6)  # written with six decimals
    image = cv2.imread(str(tmp_path / train["image_path"].iloc[0]))
    assert image.shape == (64, 64, 3) and np.array_equal(image[:, :, ::-1], truth.images[0])  # PNG: lossless
    boxes = train[["bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"]].to_numpy()
    for box, points in zip(boxes, truth.landmarks, strict=True):
        assert box[0] <= points[:, 0].min() and points[:, 0].max() <= box[2]  # the box holds every landmark
        assert 0 <= box[0] < box[2] <= 63 and 0 <= box[1] < box[3] <= 63
