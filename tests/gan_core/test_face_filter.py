from __future__ import annotations

import numpy as np
import pytest

from gan_core.face_filter import FilterConfig, box_iou, filter_detection

WFLW = np.array([[0.0, 0.0, 100.0, 100.0], [300.0, 300.0, 500.0, 500.0]])


def test_iou_of_known_boxes():
    ious = box_iou(box=np.array([50.0, 0.0, 150.0, 100.0]), boxes=WFLW)
    assert ious[0] == pytest.approx(5000 / 15000) and ious[1] == 0.0


def test_a_large_overlapping_face_is_kept_and_matched_to_its_wflw_face():
    decision = filter_detection(box=np.array([320.0, 310.0, 480.0, 470.0]), wflw_boxes=WFLW)
    assert decision.kept and decision.wflw_index == 1 and decision.iou == pytest.approx(160 * 160 / 200**2)


@pytest.mark.parametrize(
    ("box", "boxes", "reason"),
    [
        ([10.0, 10.0, 90.0, 90.0], WFLW, "too small: 6400 < 22500 pixels"),
        ([150.0, 150.0, 300.0, 300.0], WFLW, "overlaps no WFLW face"),
        ([0.0, 0.0, 200.0, 200.0], np.zeros((0, 4)), "no WFLW face in this image"),
    ],
)
def test_every_dropped_face_has_its_reason(box, boxes, reason):
    decision = filter_detection(box=np.array(box), wflw_boxes=boxes)
    assert not decision.kept and decision.reason == reason


def test_thresholds_are_configurable():
    small = np.array([10.0, 10.0, 90.0, 90.0])
    assert filter_detection(box=small, wflw_boxes=WFLW, config=FilterConfig(min_pixels=6400)).kept
    assert not filter_detection(box=small, wflw_boxes=WFLW, config=FilterConfig(min_pixels=6400, min_iou=0.7)).kept
