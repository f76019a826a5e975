"""Which detected faces go on to projection: the study's filter.

A detection is kept only when it overlaps a WFLW face of the same image (the best-IoU WFLW box is recorded, so
the relit face inherits that face's annotation) and covers at least 22,500 pixels (150x150): smaller faces
project badly at 1024x1024. Every other detection gets a reason; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_PIXELS = 150 * 150


@dataclass(frozen=True)
class FilterConfig:
    """The keep rules.

    Attributes:
        min_pixels: smallest detection box area kept (150x150 in the study).
        min_iou: smallest IoU with a WFLW box that counts as overlapping (any overlap in the study).
    """

    min_pixels: int = MIN_PIXELS
    min_iou: float = 0.0


def box_iou(*, box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with many.

    Shapes:
        box (4,) x0, y0, x1, y1; boxes (N, 4) -> (N,).
    """
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


@dataclass(frozen=True)
class FilterDecision:
    """The verdict on one detection: the WFLW face it matches (or None), its IoU, and why it was dropped."""

    wflw_index: int | None
    iou: float
    reason: str | None  # None: kept

    @property
    def kept(self) -> bool:
        return self.reason is None


def filter_detection(
    *, box: np.ndarray, wflw_boxes: np.ndarray, config: FilterConfig = FilterConfig()
) -> FilterDecision:
    """Match one detection to the WFLW faces of its image and apply the keep rules.

    Args:
        box: (4,) detection box x0, y0, x1, y1 in pixels.
        wflw_boxes: (N, 4) the image's WFLW boxes (N may be 0).
        config: the thresholds.
    """
    if len(wflw_boxes) == 0:
        return FilterDecision(wflw_index=None, iou=0.0, reason="no WFLW face in this image")
    ious = box_iou(box=np.asarray(box, float), boxes=np.asarray(wflw_boxes, float))
    best = int(np.argmax(ious))
    iou = float(ious[best])
    if iou <= config.min_iou:
        return FilterDecision(wflw_index=None, iou=iou, reason="overlaps no WFLW face")
    pixels = (box[2] - box[0]) * (box[3] - box[1])
    if pixels < config.min_pixels:
        return FilterDecision(wflw_index=best, iou=iou, reason=f"too small: {pixels:.0f} < {config.min_pixels} pixels")
    return FilterDecision(wflw_index=best, iou=iou, reason=None)
