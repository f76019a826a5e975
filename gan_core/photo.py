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

from landmark_core.image_size import DEFAULT_MAX_PIXELS, ImageSizeError, check_pixels, image_size


class PhotoError(ValueError):
    """A photo that cannot be used; the message names the file and the reason."""


def load_photo(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, str]:
    """Read ``path`` as (H, W, 3) uint8 BGR.

    The header is read first: an empty, truncated (no JPEG end marker / PNG IEND) or larger than
    ``max_pixels`` file is refused before any pixel is decoded.

    Returns:
        The image and how it was converted: ``"bgr"``, ``"grayscale"``, ``"bgra"`` or ``"16-bit"`` (joined
        with ``+`` when several apply).

    Raises:
        PhotoError: missing, unreadable, truncated or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise PhotoError(f"{path}: no such file")
    try:
        check_pixels(image_size(path), max_pixels=max_pixels)
        image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    except ImageSizeError as error:
        raise PhotoError(f"{path}: {error}") from None
    except cv2.error as error:
        raise PhotoError(f"{path}: cannot decode image ({str(error).strip().splitlines()[-1]})") from None
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
