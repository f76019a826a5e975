"""The WFLW-shaped twin: the samplers have WFLW's distributions, and a rendered fraction keeps them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from landmark_core.config import ConfigError, from_dict
from landmark_core.image_size import image_size
from landmark_core.synth import wflw_shape
from landmark_core.synth.dataset import SYNTH_DIR, SynthConfig, synthesize_wflw
from landmark_core.wflw import ATTRIBUTES, IMAGES_DIR, iter_lines, parse_rect_attr_line, rect_attr_path

FRACTION = 0.03  # 225 train and 75 test faces


def _draws(sampler, n: int = 20_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([sampler(rng=rng) for _ in range(n)])


def test_face_widths_have_wflws_quantiles():
    widths = _draws(wflw_shape.face_width)
    expected = {1: 57, 10: 65, 50: 96, 90: 249, 99: 570}
    for q, value in expected.items():
        assert np.percentile(widths, q) == pytest.approx(value, rel=0.04), q
    assert widths.min() >= 52


def test_photo_sizes_have_wflws_heights_and_width():
    sizes = _draws(wflw_shape.photo_size)
    assert np.mean(sizes[:, 0] == 1024) == pytest.approx(0.97, abs=0.01)
    assert np.median(sizes[:, 1]) == pytest.approx(757, rel=0.03)
    assert np.percentile(sizes[:, 1], 90) == pytest.approx(1518, rel=0.04)
    assert sizes[:, 1].max() <= 9108 and sizes[:, 1].min() >= 200
    assert np.mean(sizes[:, 0] * sizes[:, 1]) / 1e6 == pytest.approx(0.91, abs=0.05)


def test_faces_per_photo_rates_and_exact_total():
    counts = wflw_shape.faces_per_photo(rng=np.random.default_rng(1), faces=30_000)
    assert sum(counts) == 30_000 and max(counts) <= 6
    share = Counter(counts)
    assert share[1] / len(counts) == pytest.approx(0.87, abs=0.01)
    assert share[2] / len(counts) == pytest.approx(0.10, abs=0.01)
    assert sum(share[k] for k in (3, 4, 5, 6)) / len(counts) == pytest.approx(0.03, abs=0.006)


def test_split_sizes_scale_with_the_fraction():
    assert wflw_shape.split_faces(fraction=1.0) == {"train": 7500, "test": 2500}
    assert wflw_shape.split_faces(fraction=0.125) == {"train": 938, "test": 312}
    assert wflw_shape.split_faces(fraction=1e-6) == {"train": 1, "test": 1}


def test_the_plan_depends_on_the_seed_only():
    config = SynthConfig(shape="wflw", fraction=0.05, seed=4)
    assert config.faces_per_photo("test") == SynthConfig(shape="wflw", fraction=0.05, seed=4).faces_per_photo("test")
    assert sum(config.faces_per_photo("train")) == 375
    assert SynthConfig().faces_per_photo("train") == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"shape": "twin", "fraction": 0.5}, "fraction sizes the 'wflw' shape"),
        ({"shape": "wflw", "train": 10}, "shape = 'wflw' is sized by fraction"),
        ({"shape": "wflw", "p_two_faces": 0.5}, "synth: p_two_faces = 0.5: the 'twin' shape's setting(s)"),
        ({"shape": "wflw", "min_face_width": 50.0, "max_face_width": 90}, "min_face_width = 50.0, max_face_width"),
        ({"shape": "wflw", "fraction": 1.5}, "synth.fraction = 1.5"),
        ({"shape": "square"}, "synth.shape = 'square'"),
    ],
)
def test_mistakes_are_one_line(data, fragment):
    with pytest.raises(ConfigError) as caught:
        from_dict(SynthConfig, data, where="profile.toml", key="synth")
    message = str(caught.value)
    assert fragment in message and "\n" not in message


def test_the_wflw_shape_takes_the_settings_it_uses():
    config = from_dict(SynthConfig, {"shape": "wflw", "fraction": 0.1, "p_blur": 0.5, "jpeg_quality": 80})
    assert (config.p_blur, config.jpeg_quality) == (0.5, 80)
    assert from_dict(SynthConfig, {"shape": "wflw", "max_face_width": 260}).max_face_width == 260  # the default


@pytest.fixture(scope="module")
def wflw_twin(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wflw-shaped")
    synthesize_wflw(out=root, config=SynthConfig(shape="wflw", fraction=FRACTION, seed=2), workers=1)
    return root


def _faces(root: Path, split: str):
    return [parse_rect_attr_line(line) for _, line in iter_lines(rect_attr_path(root, split))]


@pytest.mark.slow
def test_rendered_twin_has_wflws_sizes_and_layout(wflw_twin):
    train, test = _faces(wflw_twin, "train"), _faces(wflw_twin, "test")
    assert (len(train), len(test)) == (225, 75)
    faces = train + test
    widths = np.array([np.ptp(face.landmarks[:, 0]) for face in faces])
    assert np.median(widths) == pytest.approx(96, rel=0.15)
    assert np.percentile(widths, 10) == pytest.approx(65, rel=0.1)
    assert widths.min() > 50 and np.percentile(widths, 90) > 170
    per_photo = Counter(face.image for face in faces)
    assert 0.78 <= np.mean([n == 1 for n in per_photo.values()]) <= 0.95
    sizes = np.array([image_size(wflw_twin / IMAGES_DIR / image) for image in per_photo])
    assert np.mean(sizes[:, 0] == 1024) > 0.9
    assert np.median(sizes[:, 1]) == pytest.approx(757, rel=0.2)
    truth = (wflw_twin / SYNTH_DIR / "truth_train.parquet").is_file()
    assert truth


@pytest.mark.slow
def test_rendered_twin_has_wflws_subset_rates(wflw_twin):
    faces = _faces(wflw_twin, "train") + _faces(wflw_twin, "test")
    flags = np.array([face.attributes for face in faces])
    for k, name in enumerate(ATTRIBUTES):
        rate = wflw_shape.SUBSET_RATES[name]
        tolerance = 4 * np.sqrt(rate * (1 - rate) / len(faces))
        # occlusion counts only when at least 10 landmarks are hidden, so it may fall a little under its rate
        low = rate - tolerance - (0.06 if name == "occlusion" else 0)
        assert low <= flags[:, k].mean() <= rate + tolerance, name
