"""Image sizes from headers agree with decoding, and what decoding would refuse is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from landmark_core.image_size import ImageSizeError, image_size


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
@pytest.mark.parametrize(("width", "height"), [(1024, 9108), (1024, 275), (7, 3)])
def test_the_header_size_is_the_decoded_size(tmp_path, suffix, width, height):
    path = tmp_path / f"photo{suffix}"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image_size(path) == (decoded.shape[1], decoded.shape[0]) == (width, height)


def test_progressive_and_gray_jpegs(tmp_path):
    image = np.random.default_rng(1).integers(0, 255, (40, 64), dtype=np.uint8)
    path = tmp_path / "p.jpg"
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert image_size(path) == (64, 40)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_truncated_file_is_refused_with_the_reason(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    cv2.imwrite(str(path), np.full((300, 200, 3), 90, np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageSizeError, match="truncated"):
        image_size(path)


def test_text_and_empty_files_are_refused(tmp_path):
    (tmp_path / "t.jpg").write_text("not an image")
    (tmp_path / "e.png").write_bytes(b"")
    (tmp_path / "h.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00")
    for name in ("t.jpg", "e.png", "h.jpg"):
        with pytest.raises(ImageSizeError):
            image_size(tmp_path / name)
