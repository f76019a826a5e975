from __future__ import annotations

import numpy as np
import pytest

from landmark_core.wflw import (
    RECT_ATTR_FIELDS,
    TEST_SUBSET_FILES,
    WflwFace,
    WflwFormatError,
    format_rect_attr_line,
    format_subset_line,
    iter_lines,
    parse_rect_attr_line,
    parse_subset_line,
    subset_file_path,
    write_wflw_annotations,
)


def _face(seed: int = 0, flags=(0, 1, 0, 0, 1, 0), image: str = "0--Parade/a.jpg") -> WflwFace:
    rng = np.random.default_rng(seed)
    return WflwFace(landmarks=rng.uniform(10, 300, (98, 2)), bbox=(5, 6, 310, 320), attributes=flags, image=image)


def test_rect_attr_round_trip_keeps_every_field():
    face = _face()
    line = format_rect_attr_line(face)
    assert len(line.split()) == RECT_ATTR_FIELDS == 207
    parsed = parse_rect_attr_line(line)
    np.testing.assert_allclose(parsed.landmarks, face.landmarks, atol=5e-7)
    assert parsed.bbox == (5, 6, 310, 320)
    assert parsed.attributes == (0, 1, 0, 0, 1, 0)
    assert parsed.image == "0--Parade/a.jpg"


def test_parses_a_line_in_wflw_spelling():
    coords = " ".join(f"{100 + i}.307007 {200 + i}.369055" for i in range(98))
    face = parse_rect_attr_line(f"{coords} 104 177 337 410 1 0 0 0 1 1 51--Dresses/51_Dresses_wearingdress_51_377.jpg")
    assert face.landmarks[3].tolist() == [103.307007, 203.369055]
    assert face.attributes == (1, 0, 0, 0, 1, 1)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f[:-1], "expected 207 fields, found 206"),
        (lambda f: f[:5] + ["abc"] + f[6:], "landmark field 5 is not a number"),
        (lambda f: f[:7] + ["nan"] + f[8:], "landmark field 7 is not finite"),
        (lambda f: f[:197] + ["inf"] + f[198:], "bbox field 1 is not finite"),
        (lambda f: f[:201] + ["2"] + f[202:], "attribute 'expression' must be 0 or 1"),
    ],
)
def test_malformed_lines_say_why(mutate, message):
    fields = format_rect_attr_line(_face()).split()
    with pytest.raises(WflwFormatError, match=message):
        parse_rect_attr_line(" ".join(mutate(fields)))


def test_subset_line_round_trip():
    face = _face(3)
    landmarks, image = parse_subset_line(format_subset_line(face))
    np.testing.assert_allclose(landmarks, face.landmarks, atol=5e-7)
    assert image == face.image
    with pytest.raises(WflwFormatError, match="expected 197 fields"):
        parse_subset_line(format_rect_attr_line(face))


def test_written_subset_files_hold_the_flagged_test_faces(tmp_path):
    test = [_face(i, flags=tuple(int(b) for b in np.binary_repr(i * 11 % 64, 6)), image=f"e/{i}.jpg") for i in range(9)]
    write_wflw_annotations(tmp_path, {"train": [_face(99)], "test": test})
    for subset in TEST_SUBSET_FILES:
        images = [parse_subset_line(line)[1] for _, line in iter_lines(subset_file_path(tmp_path, subset))]
        if subset == "full":
            assert images == [f.image for f in test]
        else:
            index = ("pose", "expression", "illumination", "makeup", "occlusion", "blur").index(subset)
            assert images == [f.image for f in test if f.attributes[index] == 1]
