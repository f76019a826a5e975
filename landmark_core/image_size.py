"""Image sizes from file headers, without decoding the pixels.

Indexing WFLW needs every photo's width and height (10,000 faces on photos up to 1024x9108); decoding each one
costs far more than reading its header. JPEG (the frame header, SOF) and PNG (IHDR) are read directly and
checked for a complete end (JPEG's end-of-image marker, PNG's IEND chunk), so a truncated file is caught as
decoding would catch it. Other formats fall back to decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
PNG_END = b"IEND\xaeB`\x82"
# Start-of-frame markers (baseline, progressive, lossless...); C4 (Huffman), C8 (reserved), CC (arithmetic) are not.
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length field


DEFAULT_MAX_PIXELS = 50_000_000  # WFLW's largest photo is 1024x9108 (9.3 Mpixel); 50 Mpixel leaves room


class ImageSizeError(ValueError):
    """The file is not a complete image whose size can be read (the reason says why)."""


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its header.

    Args:
        path: a JPEG, PNG or any other format OpenCV decodes (those are decoded).

    Returns:
        (width, height) in pixels, both > 0.

    Raises:
        ImageSizeError: truncated, corrupt, empty or undecodable.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
        if not head:
            raise ImageSizeError("empty file")
        if head.startswith(JPEG_START):
            size = _jpeg_size(handle)
            _check_end(handle, JPEG_END, "truncated JPEG (no end-of-image marker)")
        elif head == PNG_SIGNATURE:
            size = _png_size(handle)
            _check_end(handle, PNG_END, "truncated PNG (no IEND chunk)")
        else:
            size = _decoded_size(path)
    if size[0] <= 0 or size[1] <= 0:
        raise ImageSizeError(f"empty image ({size[0]}x{size[1]})")
    return size


def check_pixels(size: tuple[int, int], *, max_pixels: int) -> None:
    """Refuse an image larger than ``max_pixels`` before anything decodes it (a header claiming 60000x60000
    would otherwise cost gigabytes, or stop the decoder).

    Raises:
        ImageSizeError: ``width * height > max_pixels``.
    """
    width, height = size
    if width * height > max_pixels:
        raise ImageSizeError(
            f"too large: {width}x{height} = {width * height / 1e6:.1f} Mpixel, above max_pixels = {max_pixels:,}"
        )


def _jpeg_size(handle) -> tuple[int, int]:
    handle.seek(2)
    while True:
        byte = handle.read(1)
        while byte == b"\xff":  # fill bytes before a marker
            byte = handle.read(1)
        if not byte:
            raise ImageSizeError("corrupt JPEG (no frame header)")
        marker = byte[0]
        if marker in STANDALONE:
            continue
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            raise ImageSizeError("truncated JPEG header")
        (length,) = struct.unpack(">H", length_bytes)
        if marker in SOF_MARKERS:
            frame = handle.read(5)
            if len(frame) < 5:
                raise ImageSizeError("truncated JPEG frame header")
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header
            raise ImageSizeError("corrupt JPEG (no frame header)")
        handle.seek(length - 2, 1)
        if handle.read(1) == b"":
            raise ImageSizeError("truncated JPEG header")
        handle.seek(-1, 1)


def _png_size(handle) -> tuple[int, int]:
    chunk = handle.read(16)
    if len(chunk) < 16 or chunk[4:8] != b"IHDR":
        raise ImageSizeError("corrupt PNG (no IHDR chunk)")
    width, height = struct.unpack(">II", chunk[8:16])
    return width, height


def _check_end(handle, ending: bytes, message: str) -> None:
    handle.seek(0, 2)
    if handle.tell() < len(ending) + 8:
        raise ImageSizeError(message)
    handle.seek(-len(ending), 2)
    tail = handle.read(len(ending))
    if tail != ending:
        handle.seek(-min(handle.tell(), 64), 2)  # some writers append padding after the end marker
        if ending not in handle.read(64):
            raise ImageSizeError(message)


def _decoded_size(path: Path) -> tuple[int, int]:
    import cv2  # only formats without a header reader here are decoded

    try:
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # e.g. a header beyond OpenCV's own pixel limit
        raise ImageSizeError(f"cannot decode image ({str(error).strip().splitlines()[-1]})") from None
    if pixels is None or pixels.size == 0:
        raise ImageSizeError("cannot decode image")
    return int(pixels.shape[1]), int(pixels.shape[0])
