"""Face boxes given in a CSV (``--boxes``) instead of the detector's, checked before any work.

Given boxes are checked twice. ``read_boxes`` refuses the file (``ValueError``, one line naming its CSV line)
when a box is not four finite numbers with ``x_max - x_min`` and ``y_max - y_min`` at least one pixel; per
photo, a box that reaches more than ``BOX_MARGIN`` of the photo's width (height) past its left or right (top
or bottom) edge is skipped with its reason: a face cut by the border is fine, a box far outside is a mistake
(and would ask the crop for a gigantic warp). A box row names its image by the path as given on the command
line, by the input's output name, or by the bare file name when no other input has that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BOX_MARGIN = 0.5  # a given box may reach past each edge of the photo by half the photo's width (height)
BOX_COLUMNS = ["x_min", "y_min", "x_max", "y_max"]


@dataclass(frozen=True)
class GivenBoxes:
    """A boxes CSV read and checked: each image's boxes and the CSV line of each.

    Attributes:
        source: the CSV's path (named in reasons).
        boxes: image (as the CSV names it) -> (N, 4) x_min, y_min, x_max, y_max.
        lines: image -> the CSV line (1 is the header) of each of its boxes.
    """

    source: Path
    boxes: dict[str, np.ndarray]
    lines: dict[str, list[int]]

    def find(self, path: Path, *, name: str, shared_name: bool) -> str | None:
        """The CSV's key for the input ``path`` (output name ``name``), or None when it gives no box for it.

        The bare file name counts only when no other input has it (``shared_name`` False).
        """
        for key in (str(path), name, *(() if shared_name else (path.name,))):
            if key in self.boxes:
                return key
        return None


def read_boxes(path: Path) -> GivenBoxes:
    """A boxes CSV (``image`` as a file name or path, and ``x_min, y_min, x_max, y_max``), checked.

    Raises:
        ValueError: an unreadable or malformed file, a missing column, a row without an image, a box that is not
            four finite numbers or is less than a pixel wide or high (one line naming the file and its line).
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:  # permissions, not UTF-8, empty, not a table
        reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0]
        raise ValueError(f"{path}: cannot read the boxes ({reason})") from None
    missing = [c for c in ["image", *BOX_COLUMNS] if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    values = np.full((len(table), 4), np.nan)
    for k, column in enumerate(BOX_COLUMNS):
        values[:, k] = pd.to_numeric(table[column], errors="coerce")
    boxes: dict[str, list] = {}
    lines: dict[str, list[int]] = {}
    for row, (image, box) in enumerate(zip(table["image"], values, strict=True)):
        problem = "no image" if not image.strip() else _box_problem(box, table.loc[row, BOX_COLUMNS].tolist())
        if problem:
            raise ValueError(f"{path} line {row + 2}: {problem}")
        boxes.setdefault(image, []).append(box)
        lines.setdefault(image, []).append(row + 2)
    return GivenBoxes(source=path, boxes={k: np.array(v) for k, v in boxes.items()}, lines=lines)


def _box_problem(box: np.ndarray, raw: list) -> str | None:
    """Why a box read from a CSV is not a box (``raw`` is its cells as written), or None."""
    if not np.isfinite(box).all():
        bad = next(c for c, v, r in zip(BOX_COLUMNS, box, raw, strict=True) if not np.isfinite(v))
        cell = raw[BOX_COLUMNS.index(bad)]
        return f"{bad} = {cell!r} is not a finite number" if cell.strip() else f"{bad} is empty"
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        return f"box {_box_text(box)} must be at least a pixel wide and high (x_max > x_min, y_max > y_min)"
    return None


def _box_text(box: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"


def fitting_boxes(boxes: np.ndarray, lines: list[int], *, width: int, height: int) -> tuple[np.ndarray, list[str]]:
    """The boxes that fit a ``width`` x ``height`` photo within ``BOX_MARGIN``, and why each other one does not.

    Args:
        boxes: (N, 4) x_min, y_min, x_max, y_max (finite, positive size: ``read_boxes`` checked).
        lines: the CSV line of each box (named in the reasons).
        width: the photo's width (as decoded, upright).
        height: its height.

    Returns:
        The (M, 4) boxes kept and one reason per box left out.
    """
    lo = np.array([-BOX_MARGIN * width, -BOX_MARGIN * height] * 2)
    hi = np.array([(1 + BOX_MARGIN) * width, (1 + BOX_MARGIN) * height] * 2)
    inside = ((boxes >= lo) & (boxes <= hi)).all(axis=1)
    reasons = [
        f"box {_box_text(box)} of line {line} lies outside the {width}x{height} photo by more than "
        f"{BOX_MARGIN:.0%} of its size"
        for box, line, fits in zip(boxes, lines, inside, strict=True)
        if not fits
    ]
    return boxes[inside].reshape(-1, 4), reasons
