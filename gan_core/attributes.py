"""StyleFlow's 17-number condition: 9 SH lighting coefficients, then 8 face attributes.

The attribute order is StyleFlow's (``data/attributes.npy``): gender, glasses, yaw, pitch, baldness, beard,
age, expression (smile). The study read the eight from the Azure Face API, whose age, gender, smile, facial
hair and hair attributes were retired in 2023. Here yaw and pitch come from the project's head pose, the rest
from a provider: a user's table, or StyleFlow's published attribute means. During a relight the attributes
are held fixed (source and target conditions differ only in the lighting), so the means are an honest default:
they place every face at the population centre of the flow's attribute space, they do not claim to describe it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ATTRIBUTE_NAMES = ("gender", "glasses", "yaw", "pitch", "baldness", "beard", "age", "expression")

# Means over StyleFlow's 1000 published faces (data/attributes.npy; CC BY-NC-SA 4.0, R. Abdal et al.).
STYLEFLOW_MEANS: dict[str, float] = dict(
    zip(ATTRIBUTE_NAMES, (0.433, 0.168, -0.0393, -2.9381, 0.07359, 0.0781, 30.541, 0.743308), strict=True)
)


# StyleFlow's attribute editor (its published UI): each attribute's range, the gain its editor applies to a change
# (the condition moves by gain x (target - current)), and the W+ rows [first, last) that take the edited code
# (the other rows keep the projected code, as the lighting edit keeps rows outside 7-11).
ATTRIBUTE_RANGES: dict[str, tuple[float, float]] = {
    "gender": (0.0, 1.0),
    "glasses": (0.0, 1.0),
    "yaw": (-20.0, 20.0),
    "pitch": (-20.0, 20.0),
    "baldness": (0.0, 1.0),
    "beard": (0.0, 1.0),
    "age": (0.0, 65.0),
    "expression": (0.0, 1.0),
}
EDIT_GAIN: dict[str, float] = dict(zip(ATTRIBUTE_NAMES, (1.5, 2.5, 1.0, 1.0, 2.0, 1.7, 0.93, 1.0), strict=True))
EDIT_ROWS: dict[str, tuple[int, int]] = {
    "gender": (0, 8),
    "glasses": (2, 4),
    "yaw": (0, 4),
    "pitch": (0, 4),
    "baldness": (0, 6),
    "beard": (5, 10),
    "age": (4, 8),
    "expression": (4, 6),
}
# Edits that move landmarks (head pose, mouth): a face edited so would no longer fit its labels.
MOVES_LANDMARKS = ("yaw", "pitch", "expression")


def edit_condition(*, source: np.ndarray, attribute: str, target: float) -> np.ndarray:
    """The condition StyleFlow's editor moves to when one attribute is set to ``target``.

    Args:
        source: ``[17]`` the face's condition (9 SH coefficients, then the attributes in StyleFlow's order).
        attribute: one of ``ATTRIBUTE_NAMES``.
        target: the attribute's new value, within ``ATTRIBUTE_RANGES[attribute]``.

    Returns:
        ``[17]`` float32: ``source`` with the attribute at ``current + EDIT_GAIN * (target - current)``.

    Raises:
        ValueError: an unknown attribute or a target outside its range.
    """
    if attribute not in ATTRIBUTE_RANGES:
        raise ValueError(f"unknown StyleFlow attribute {attribute!r}; known: {', '.join(ATTRIBUTE_NAMES)}")
    low, high = ATTRIBUTE_RANGES[attribute]
    if not low <= target <= high:
        raise ValueError(f"{attribute} = {target}: StyleFlow's range is [{low}, {high}]")
    out = np.asarray(source, dtype=np.float32).reshape(-1).copy()
    at = 9 + ATTRIBUTE_NAMES.index(attribute)
    out[at] = out[at] + EDIT_GAIN[attribute] * (target - out[at])
    return out


def stats_attributes(*, yaw: float, pitch: float) -> dict[str, float]:
    """StyleFlow's attribute means with the face's own yaw and pitch (degrees)."""
    return {**STYLEFLOW_MEANS, "yaw": float(yaw), "pitch": float(pitch)}


def table_attributes(*, row: Mapping[str, float], yaw: float, pitch: float) -> dict[str, float]:
    """Attributes from a user's table row; yaw/pitch from the row when present, else from the head pose.

    Raises:
        ValueError: an attribute is missing or not a finite number (the message names it).
    """
    values = {"yaw": yaw, "pitch": pitch, **{k: row[k] for k in ATTRIBUTE_NAMES if k in row}}
    missing = [k for k in ATTRIBUTE_NAMES if k not in values]
    if missing:
        raise ValueError(f"attribute table lacks {missing}")
    bad = [k for k in ATTRIBUTE_NAMES if not np.isfinite(float(values[k]))]
    if bad:
        raise ValueError(f"attribute(s) {bad} are not finite numbers")
    return {k: float(values[k]) for k in ATTRIBUTE_NAMES}


def condition_vector(*, sh: np.ndarray, attributes: Mapping[str, float]) -> np.ndarray:
    """``[17]`` float32: the 9 SH coefficients, then the attributes in StyleFlow's order.

    Raises:
        ValueError: the SH is not 9 finite numbers.
    """
    sh = np.asarray(sh, dtype=np.float64).reshape(-1)
    if sh.shape != (9,) or not np.all(np.isfinite(sh)):
        raise ValueError(f"SH lighting must be 9 finite numbers, got {sh}")
    return np.concatenate([sh, [attributes[k] for k in ATTRIBUTE_NAMES]]).astype(np.float32)
