"""Image sizes from headers agree with decoding, and what decoding would refuse is refused; every format is sized
from its header (never decoded), so a tiny file declaring a gigapixel costs nothing."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from landmark_core.image_size import DEFAULT_MAX_PIXELS, ImageSizeError, check_pixels, image_size


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


def _bmp(width: int, height: int) -> bytes:
    """A BMP header declaring ``width`` x ``height`` 24-bit pixels, followed by a few bytes of them."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + info + bytes(64)


def _pgm(width: int, height: int) -> bytes:
    return f"P5\n{width} {height}\n255\n".encode() + bytes(64)


def _tiff(width: int, height: int) -> bytes:
    """An uncompressed grey TIFF whose first IFD declares ``width`` x ``height``."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 122)]
    tags += [(277, 3, 1), (278, 4, height), (279, 4, 64)]
    entries = b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in tags
    )
    return b"II*\x00" + struct.pack("<IH", 8, len(tags)) + entries + struct.pack("<I", 0) + bytes(64)


def _gif(width: int, height: int, *, screen: tuple[int, int] | None = None) -> bytes:
    """A GIF of one ``width`` x ``height`` frame (on a screen of that size, or of ``screen``)."""
    screen_w, screen_h = screen or (width, height)
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", screen_w, screen_h, 0xF0, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff,"
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02\x02\x44\x01\x00;"
    )


BOMBS = {"bmp": _bmp, "pgm": _pgm, "tif": _tiff, "gif": _gif}


@pytest.mark.parametrize("suffix", sorted(BOMBS))
@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (12_000, 12_000)])
def test_a_header_bomb_of_any_format_is_refused_from_its_header(tmp_path, suffix, width, height):
    path = tmp_path / f"bomb.{suffix}"
    path.write_bytes(BOMBS[suffix](width, height))
    assert path.stat().st_size < 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either: the size is the answer
        if width * height > 2 * Image.MAX_IMAGE_PIXELS:
            with pytest.raises(ImageSizeError, match=rf"too large: its header declares {width * height / 1e6:.1f} "):
                image_size(path)
            return
        size = image_size(path)
    assert size == (width, height)
    with pytest.raises(ImageSizeError, match=r"too large: 12000x12000 = 144.0 Mpixel, above max_pixels"):
        check_pixels(size, max_pixels=DEFAULT_MAX_PIXELS)


def test_a_gif_frame_larger_than_its_screen_counts_with_its_frame(tmp_path):
    path = tmp_path / "sly.gif"
    path.write_bytes(_gif(9000, 9000, screen=(1, 1)))
    assert image_size(path) == (9000, 9000)


def _pillow_file(path: Path, image: np.ndarray, fmt: str) -> None:
    Image.fromarray(image).save(path, fmt)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("p.tif", "TIFF"), ("p.gif", "GIF"), ("p.ppm", "PPM"), ("p.webp", "WEBP"), ("p.jp2", "JPEG2000")],
)
def test_every_format_opencv_decodes_is_sized_from_its_header(tmp_path, name, fmt):
    path = tmp_path / name
    _pillow_file(path, np.random.default_rng(2).integers(0, 255, (21, 34, 3), dtype=np.uint8), fmt)
    decoded = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert decoded is not None and image_size(path) == (decoded.shape[1], decoded.shape[0]) == (34, 21)


@pytest.mark.parametrize("suffix", [".pgm", ".pbm", ".ras", ".sr"])
def test_opencv_written_formats_are_sized_from_their_header(tmp_path, suffix):
    path = tmp_path / f"p{suffix}"
    assert cv2.imwrite(str(path), np.full((13, 29), 200, np.uint8))
    assert image_size(path) == (29, 13)


@pytest.mark.parametrize(("suffix", "named"), [(".pam", "PAM"), (".hdr", "Radiance HDR")])
def test_formats_whose_size_needs_a_decode_are_refused_by_name(tmp_path, suffix, named):
    path = tmp_path / f"p{suffix}"
    assert cv2.imwrite(str(path), np.full((13, 29, 3), 200, np.uint8 if suffix == ".pam" else np.float32))
    assert cv2.imread(str(path)) is not None  # OpenCV would decode it ...
    with pytest.raises(ImageSizeError, match=f"^{named} is not supported"):  # ... but its size is not read first
        image_size(path)


def test_a_format_pillow_knows_but_opencv_does_not_decode_is_refused(tmp_path):
    path = tmp_path / "p.tga"
    _pillow_file(path, np.zeros((5, 6, 3), np.uint8), "TGA")
    with pytest.raises(ImageSizeError, match="^TGA images are not supported$"):
        image_size(path)


def test_an_unreadable_file_is_an_os_error_not_a_size(tmp_path):
    with pytest.raises(FileNotFoundError):
        image_size(tmp_path / "gone.png")
