"""How a relit face is pasted: the study's (the relit render) or only the change the edit made."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.paste import PasteConfig, relit_face


def test_the_face_mode_pastes_the_relit_render_itself():
    rng = np.random.default_rng(0)
    aligned, relit, base = (rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3))
    assert relit_face(aligned=aligned, relit=relit, base=base, mode="face") is relit


def test_the_change_mode_adds_only_what_the_edit_changed_to_the_photo_s_face():
    aligned = np.array([[[10, 200, 250]]], dtype=np.uint8)
    base = np.array([[[50, 50, 50]]], dtype=np.uint8)
    relit = np.array([[[20, 80, 90]]], dtype=np.uint8)  # the edit: -30, +30, +40
    assert relit_face(aligned=aligned, relit=relit, base=base, mode="change").tolist() == [[[0, 230, 255]]]
    same = relit_face(aligned=aligned, relit=base, base=base, mode="change")
    assert np.array_equal(same, aligned)  # no edit: the photo's face, to the bit


def test_the_paste_mode_is_checked_when_loaded():
    from landmark_core.config import ConfigError, from_dict

    assert from_dict(PasteConfig, {"relit": "change"}).relit == "change"
    with pytest.raises(ConfigError, match="relit"):
        from_dict(PasteConfig, {"relit": "photo"})
