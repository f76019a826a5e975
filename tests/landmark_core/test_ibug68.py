"""WFLW-98 to iBUG-68: the standard correspondence, checked on the points whose meaning both schemes share."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_core.ibug68 import IBUG68_FROM_WFLW98, ibug68_from_wflw98


def test_68_distinct_wflw_points_in_ibug_order():
    assert len(IBUG68_FROM_WFLW98) == 68 and len(set(IBUG68_FROM_WFLW98)) == 68
    assert max(IBUG68_FROM_WFLW98) == 95  # the pupils (96, 97) have no iBUG point
    # jaw ends and chin, nose tip, eye corners, mouth corners
    assert [IBUG68_FROM_WFLW98[i] for i in (0, 8, 16, 30, 36, 39, 42, 45, 48, 54)] == [
        0,
        16,
        32,
        54,
        60,
        64,
        68,
        72,
        76,
        82,
    ]


def test_points_are_picked_and_a_wrong_shape_is_refused():
    points = np.arange(196, dtype=float).reshape(98, 2)
    assert np.array_equal(ibug68_from_wflw98(points)[30], points[54])
    with pytest.raises(ValueError, match=r"expected \(98, 2\) WFLW landmarks, got \(68, 2\)"):
        ibug68_from_wflw98(np.zeros((68, 2)))
