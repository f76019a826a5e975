"""Every odd photo becomes plain 8-bit BGR with a note, or one PhotoError naming the file and the reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gan_core.photo import PhotoError, load_photo
from tests.images import write_png


@pytest.fixture()
def jpeg(tmp_path):
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), np.full((40, 60, 3), 120, np.uint8))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p, j: p.write_bytes(b""), "empty file"),
        (lambda p, j: p.write_bytes(j.read_bytes()[:200]), "truncated JPEG"),
        (lambda p, j: write_png(p, width=60000, height=60000, valid=False), "too large: 60000x60000"),
        (lambda p, j: write_png(p, width=24000, height=24000), "too large: 24000x24000"),
        (lambda p, j: p.write_bytes(b"<html>not an image</html>"), "not an image \\(no known image format\\)"),
    ],
    ids=["empty", "truncated", "header-claims-huge", "valid-huge", "not-an-image"],
)
def test_bad_photos_are_one_error_naming_the_file(tmp_path, jpeg, make, reason):
    path = tmp_path / "bad.img"
    make(path, jpeg)
    with pytest.raises(PhotoError, match=reason) as caught:
        load_photo(path)
    assert str(caught.value).startswith(str(path))


def test_the_pixel_limit_is_a_setting(tmp_path):
    path = write_png(tmp_path / "wide.png", width=300, height=200)
    with pytest.raises(PhotoError, match="above max_pixels = 50,000"):
        load_photo(path, max_pixels=50_000)
    image, note = load_photo(path, max_pixels=60_000)
    assert image.shape == (200, 300, 3) and note == "grayscale" and (image == 0x80).all()


def test_odd_pixel_formats_become_bgr(tmp_path, jpeg):
    assert load_photo(jpeg)[1] == "bgr"
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 4), np.uint8))
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((8, 8, 3), 65535, np.uint16))
    assert load_photo(tmp_path / "a.png")[1] == "bgra"
    deep, note = load_photo(tmp_path / "deep.png")
    assert note == "16-bit" and deep.dtype == np.uint8 and (deep == 255).all()
