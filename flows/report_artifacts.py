"""The report in the Prefect UI: the Markdown with its figures as small JPEG thumbnails, within a byte budget.

A Prefect artifact travels in a server event, and the server refuses an event over 1.5 MB (it logs "Refusing to
publish event of size ..." and the UI never shows it). The report's figures as full-size PNGs made a 3 MB
artifact on the demo, so the UI shows each figure as a thumbnail (its longer side at most ``MAX_SIDE`` pixels,
JPEG) while the thumbnails fit ``BUDGET_BYTES``; a figure past the budget is named with its place in the store
instead. The report's own files (``report.md``, ``report.html``, ``figures/``) are untouched.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import numpy as np

MAX_SIDE = 720
JPEG_QUALITY = 75
BUDGET_BYTES = 600_000  # all the figures' data URIs together, well under the server's 1.5 MB per event


def thumbnail_uri(png: Path, *, max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY) -> str:
    """A figure as a ``data:image/jpeg;base64,...`` URI, shrunk so its longer side is at most ``max_side``.

    Args:
        png: the figure file.
        max_side: the thumbnail's longer side in pixels (a smaller figure keeps its size).
        quality: JPEG quality, 1 to 100.

    Returns:
        The data URI.
    """
    image = cv2.imread(str(png), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{png}: not a readable image")
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, png
    return "data:image/jpeg;base64," + base64.b64encode(np.asarray(encoded).tobytes()).decode("ascii")


def artifact_markdown(markdown: str, folder: Path, *, budget_bytes: int = BUDGET_BYTES) -> str:
    """``markdown`` (a report's) with each ``figures/<name>.png`` shown as a thumbnail while they fit the budget.

    Args:
        markdown: the report's Markdown, whose images are written ``![caption](figures/<name>.png)``.
        folder: the report's folder (holding ``figures/``).
        budget_bytes: the most bytes the thumbnails' data URIs may take together.

    Returns:
        The Markdown for the artifact: every figure either a thumbnail or a line naming its file in the store.
    """
    spent = 0
    for png in sorted((folder / "figures").glob("*.png")):
        image = re.compile(r"!\[([^\]]*)\]\(" + re.escape(f"figures/{png.name}") + r"\)")
        if not image.search(markdown):
            continue
        uri = thumbnail_uri(png)
        if spent + len(uri) <= budget_bytes:
            markdown = image.sub(lambda m, uri=uri: f"![{m.group(1)}]({uri})", markdown)
            spent += len(uri)
        else:
            named = f"*(figure {{}}: past this page's size budget; the file is {folder / 'figures' / png.name})*"
            markdown = image.sub(lambda m, named=named, name=png.name: named.format(m.group(1) or name), markdown)
    return markdown
