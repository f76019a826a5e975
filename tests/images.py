"""Image files for the hostile-input tests, made without holding their pixels in memory."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, *, width: int, height: int, valid: bool = True) -> Path:
    """A grey 8-bit PNG of ``width`` x ``height``, streamed row by row (a 24000x24000 file is ~600 kB).

    With ``valid=False`` only the header claims the size (one tiny IDAT chunk), as a hostile file would.
    """
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        squeeze = zlib.compressobj(9)
        row = b"\x00" + b"\x80" * width  # filter byte, then the row
        data = b""
        for _ in range(height if valid else 1):
            data += squeeze.compress(row)
            if len(data) > 1 << 20:
                out.write(_chunk(b"IDAT", data))
                data = b""
        out.write(_chunk(b"IDAT", data + squeeze.flush()) + _chunk(b"IEND", b""))
    return path
