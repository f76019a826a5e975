"""Reading photos for the GAN branch: every odd input either becomes a plain 8-bit BGR image with a note of
what was converted, or fails with a reason that names the file.

Grayscale becomes three equal channels; an alpha channel is dropped (composited on black would invent
colours, so it is simply discarded, as dlib and FFHQ do); 16-bit images are scaled to 8 bits. A JPEG whose
end-of-image marker is missing (a truncated download) is refused rather than half-decoded.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class PhotoError(ValueError):
    """A photo that cannot be used; the message names the file and the reason."""


def load_photo(path: Path) -> tuple[np.ndarray, str]:
    """Read ``path`` as (H, W, 3) uint8 BGR.

    Returns:
        The image and how it was converted: ``"bgr"``, ``"grayscale"``, ``"bgra"`` or ``"16-bit"`` (joined
        with ``+`` when several apply).

    Raises:
        PhotoError: missing, unreadable, truncated or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise PhotoError(f"{path}: no such file")
    data = path.read_bytes()
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise PhotoError(f"{path}: truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise PhotoError(f"{path}: cannot decode image (corrupt or not an image)")
    notes = []
    if image.dtype == np.uint16:
        image, notes = (image / 257.0).round().astype(np.uint8), [*notes, "16-bit"]
    elif image.dtype != np.uint8:
        raise PhotoError(f"{path}: unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        image, notes = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR), [*notes, "grayscale"]
    elif image.shape[2] == 4:
        image, notes = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), [*notes, "bgra"]
    return np.ascontiguousarray(image), "+".join(notes) or "bgr"
