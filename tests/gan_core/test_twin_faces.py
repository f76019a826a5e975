"""FFHQ-aligned twin faces: the alignment's geometry, landmarks carried exactly, and relit ground truth."""

from __future__ import annotations

import numpy as np

from gan_core.homography import apply_homography
from gan_core.twin_faces import aligned_twin_faces
from landmark_core.synth.portrait import render_portrait, sample_portrait
from landmark_core.synth.render import Lighting


def test_faces_are_aligned_like_ffhq_eyes_level_and_centred():
    faces = aligned_twin_faces(seeds=range(10), resolution=64)
    assert faces.images.shape == (10, 64, 64, 3) and faces.images.dtype == np.uint8
    assert faces.landmarks.shape == (10, 98, 2) and faces.seeds == tuple(range(10))
    right_eye, left_eye = faces.landmarks[:, 96], faces.landmarks[:, 97]  # the pupils
    assert np.abs(right_eye[:, 1] - left_eye[:, 1]).max() < 2.5  # the roll is taken out
    middle = (right_eye + left_eye) / 2
    assert np.abs(middle[:, 0] - 32).max() < 3
    assert (middle[:, 1] > 18).all() and (middle[:, 1] < 34).all()  # FFHQ puts the eyes a little above the centre
    spread = np.linalg.norm(left_eye - right_eye, axis=1)
    assert (spread > 0.2 * 64).all() and (spread < 0.4 * 64).all()


def test_landmarks_go_back_to_the_photo_through_the_record():
    faces = aligned_twin_faces(seeds=[5], resolution=64)
    _, truth = render_portrait(portrait=sample_portrait(seed=5))
    back = apply_homography(matrix=faces.records[0].to_original(), points=faces.landmarks[0])
    assert np.allclose(back, truth, atol=1e-6)


def test_another_light_gives_the_same_alignment_and_landmarks_and_other_pixels():
    light = Lighting(direction=(-0.8, 0.3, 0.5), ambient=0.25, diffuse=1.0)
    own, relit = (
        aligned_twin_faces(seeds=[1, 2], resolution=32),
        aligned_twin_faces(seeds=[1, 2], resolution=32, lighting=light),
    )
    assert np.array_equal(own.landmarks, relit.landmarks) and own.records == relit.records
    assert np.abs(own.images.astype(int) - relit.images).mean() > 2


def test_no_seeds_no_faces():
    faces = aligned_twin_faces(seeds=[], resolution=32)
    assert faces.images.shape == (0, 32, 32, 3) and faces.landmarks.shape == (0, 98, 2)
