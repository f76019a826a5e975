"""Portraits: one face per photo from a seed, the same face under another light with the same landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_core.synth.portrait import render_portrait, sample_portrait
from landmark_core.synth.render import Lighting

SIDE_LIGHT = Lighting(direction=(0.9, 0.1, 0.4), ambient=0.2, diffuse=1.0)


def test_a_seed_is_one_portrait_and_another_seed_another():
    a, b = render_portrait(portrait=sample_portrait(seed=3)), render_portrait(portrait=sample_portrait(seed=3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = render_portrait(portrait=sample_portrait(seed=4))
    assert not np.array_equal(a[0], c[0])


def test_the_face_is_centred_and_fills_about_forty_percent():
    for seed in range(12):
        image, landmarks = render_portrait(portrait=sample_portrait(seed=seed, side=128))
        assert image.shape == (128, 128, 3) and image.dtype == np.float32
        assert (landmarks > 0).all() and (landmarks < 128).all()
        width = landmarks[:, 0].max() - landmarks[:, 0].min()
        assert 0.25 * 128 < width < 0.5 * 128, seed


def test_another_light_changes_the_face_only_and_keeps_every_landmark():
    portrait = sample_portrait(seed=7)
    image, landmarks = render_portrait(portrait=portrait)
    relit, relit_landmarks = render_portrait(portrait=portrait, lighting=SIDE_LIGHT)
    assert np.array_equal(landmarks, relit_landmarks)
    changed = np.abs(relit - image).max(axis=2) > 1e-6
    assert changed.any()
    width = np.ptp(landmarks[:, 0])
    xs = np.nonzero(changed)[1]
    assert xs.min() > landmarks[:, 0].min() - 0.5 * width and xs.max() < landmarks[:, 0].max() + 0.5 * width  # the head
    assert not changed[:16, :16].any() and not changed[:16, -16:].any()  # the background's corners stay


def test_a_side_light_brightens_the_side_it_comes_from():
    portrait = sample_portrait(seed=2)
    _, landmarks = render_portrait(portrait=portrait)
    left, right = (render_portrait(portrait=portrait, lighting=Lighting(direction=(s, 0.0, 0.5)))[0] for s in (-1, 1))
    cheek_x = int(landmarks[:, 0].max() - 0.2 * np.ptp(landmarks[:, 0]))  # the face's image-right cheek
    y = int(landmarks[54, 1])
    assert right[y, cheek_x].mean() > left[y, cheek_x].mean()


def test_a_photo_too_small_is_refused():
    with pytest.raises(ValueError, match="at least 64 px, got 32"):
        sample_portrait(seed=0, side=32)
