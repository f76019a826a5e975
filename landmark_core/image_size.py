"""Image sizes from file headers, without decoding the pixels.

Indexing WFLW needs every photo's width and height (10,000 faces on photos up to 1024x9108); decoding each one
costs far more than reading its header. JPEG (the frame header, SOF) and PNG (IHDR) are read directly and
checked for a complete end (JPEG's end-of-image marker, PNG's IEND chunk), so a truncated file is caught as
decoding would catch it.

Every other format is never decoded to learn its size: Pillow's ``Image.open`` identifies the file by its first
bytes and parses its header only (the pixels are read by ``load()``, which is never called here). Only the formats
OpenCV decodes with the same header (``HEADER_FORMATS``: BMP, GIF, TIFF, WebP, PBM/PGM/PPM, Sun raster, JPEG 2000,
AVIF) are sized this way; a file Pillow cannot identify, or identifies as a format OpenCV does not decode, is
refused, even where OpenCV could decode it (PAM, PFM, Radiance HDR, OpenEXR): their size could only be learnt by
decoding them, so a tiny file declaring a gigapixel would cost gigabytes before any check. A header declaring
more than Pillow's own bomb limit (2 x ``PIL.Image.MAX_IMAGE_PIXELS``, 179 Mpixel) is refused as too large.
"""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
PNG_END = b"IEND\xaeB`\x82"
# Start-of-frame markers (baseline, progressive, lossless...); C4 (Huffman), C8 (reserved), CC (arithmetic) are not.
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length field


# Pillow's names of the formats whose header gives the size OpenCV's decoder allocates (checked: a GIF frame larger
# than its screen enlarges Pillow's size; OpenJPEG refuses a JP2 whose box and codestream sizes differ).
HEADER_FORMATS = frozenset({"BMP", "DIB", "GIF", "TIFF", "WEBP", "PPM", "SUN", "JPEG2000", "AVIF"})
# Formats OpenCV decodes whose size Pillow cannot read: named in the refusal.
UNSIZED = ((b"P7", "PAM"), (b"PF", "PFM"), (b"Pf", "PFM"), (b"#?", "Radiance HDR"), (b"v/1\x01", "OpenEXR"))
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")

DEFAULT_MAX_PIXELS = 50_000_000  # WFLW's largest photo is 1024x9108 (9.3 Mpixel); 50 Mpixel leaves room


class ImageSizeError(ValueError):
    """The file is not a complete image whose size can be read (the reason says why)."""


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its header.

    Args:
        path: a JPEG, PNG or another format of ``HEADER_FORMATS``; nothing is decoded.

    Returns:
        (width, height) in pixels, both > 0.

    Raises:
        ImageSizeError: truncated, corrupt, empty, not an image, a format whose size cannot be read without
            decoding, or a header declaring more than Pillow's bomb limit.
        OSError: the file cannot be opened or read (missing, permissions).
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
            size = _header_size(path, head)
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


def _header_size(path: Path, head: bytes) -> tuple[int, int]:
    """The size Pillow reads from the header of a format of ``HEADER_FORMATS`` (no pixel is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused by size, not warned about
            with Image.open(path) as image:
                kind, size = image.format, image.size
    except Image.DecompressionBombError as error:
        found = _BOMB_PIXELS.search(str(error))
        declared = f"{int(found.group(1)) / 1e6:.1f} Mpixel" if found else "more pixels"
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageSizeError(f"too large: its header declares {declared}, above Pillow's limit of {limit:,}") from None
    except UnidentifiedImageError:
        named = next((name for magic, name in UNSIZED if head.startswith(magic)), None)
        if named:
            raise ImageSizeError(f"{named} is not supported (its size cannot be read without decoding)") from None
        raise ImageSizeError("not an image (no known image format)") from None
    except (ValueError, EOFError, struct.error, SyntaxError) as error:  # a header Pillow started but could not parse
        raise ImageSizeError(f"corrupt image header ({error})") from None
    if kind not in HEADER_FORMATS:
        raise ImageSizeError(f"{kind} images are not supported")
    return int(size[0]), int(size[1])
