from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from landmark_core.wflw import (
    ATTRIBUTES,
    format_rect_attr_line,
    format_subset_line,
    iter_lines,
    parse_rect_attr_line,
    rect_attr_path,
    subset_file_path,
)
from landmark_core.wflw_index import FACE_COLUMNS, QUARANTINE_COLUMNS, index_wflw, landmarks_array


def test_clean_twin_indexes_every_line(synth_root):
    result = index_wflw(root=synth_root)
    lines = {s: len(list(iter_lines(rect_attr_path(synth_root, s)))) for s in ("train", "test")}
    assert result.quarantine.empty
    assert list(result.faces.columns) == list(FACE_COLUMNS)
    assert result.faces["split"].value_counts().to_dict() == lines
    assert result.faces["face_id"].is_unique
    first = parse_rect_attr_line(next(iter_lines(rect_attr_path(synth_root, "train")))[1])
    row = result.faces.iloc[0]
    np.testing.assert_allclose(landmarks_array(result.faces)[0], first.landmarks, atol=1e-6)
    assert row["image_path"] == f"WFLW_images/{first.image}"
    assert (row["image_width"], row["image_height"]) > (0, 0)


def test_face_ids_are_stable_and_memberships_follow_the_files(synth_root):
    a, b = index_wflw(root=synth_root), index_wflw(root=synth_root)
    assert a.faces["face_id"].tolist() == b.faces["face_id"].tolist()
    test = a.faces[a.faces["split"] == "test"]
    assert test["in_full"].all()
    for name in ATTRIBUTES:
        assert (test[f"in_{name}"] == (test[name] == 1)).all()


@pytest.fixture()
def broken_root(synth_root, tmp_path) -> Path:
    root = tmp_path / "wflw"
    shutil.copytree(synth_root, root)
    path = rect_attr_path(root, "train")
    lines = [line for _, line in iter_lines(path)]
    good = parse_rect_attr_line(lines[0])
    fields = lines[0].split()

    def variant(**changes) -> str:
        return format_rect_attr_line(replace(good, **changes))

    (root / "WFLW_images" / "0--Parade" / "broken.jpg").write_bytes(b"not a jpeg")
    bad = [
        " ".join(fields[:-2] + fields[-1:]),  # 206 fields
        " ".join(["x1"] + fields[1:]),  # non-numeric
        " ".join(fields[:3] + ["inf"] + fields[4:]),  # non-finite
        " ".join(fields[:200] + ["7"] + fields[201:]),  # flag not 0/1
        variant(bbox=(50, 50, 50, 80)),  # empty bbox
        variant(bbox=(5000, 5000, 5100, 5100)),  # outside the image
        variant(image="0--Parade/missing.jpg"),
        variant(image="0--Parade/broken.jpg"),
        lines[0],  # duplicate of line 1
    ]
    path.write_text("\n".join(lines + bad) + "\n")
    with open(subset_file_path(root, "pose"), "a") as handle:
        handle.write(format_subset_line(replace(good, image="0--Parade/nowhere.jpg")) + "\n")
    return root


def test_malformed_rows_are_quarantined_with_their_reason(broken_root, synth_root):
    clean = index_wflw(root=synth_root)
    result = index_wflw(root=broken_root)
    assert list(result.quarantine.columns) == list(QUARANTINE_COLUMNS)
    assert len(result.faces) == len(clean.faces)  # every good row survives
    q = result.quarantine
    n_train = int((clean.faces["split"] == "train").sum())
    train_q = q[q["source"].str.endswith("list_98pt_rect_attr_train.txt")]
    assert train_q["line"].tolist() == list(range(n_train + 1, n_train + 10))
    reasons = train_q["reason"].tolist()
    expected = [
        "expected 207 fields, found 206",
        "landmark field 0 is not a number",
        "landmark field 3 is not finite",
        "attribute 'pose' must be 0 or 1, found '7'",
        "empty bbox",
        "lies outside the",
        "missing image",
        "unreadable image",
        "duplicate of line 1",
    ]
    for reason, want in zip(reasons, expected, strict=True):
        assert want in reason
    subset_q = q[q["source"].str.endswith("list_98pt_test_largepose.txt")]
    assert len(subset_q) == 1 and "matches no usable face" in subset_q["reason"].iloc[0]
    assert (q["raw"].str.len() > 0).all()


def test_missing_annotations_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no WFLW annotation file"):
        index_wflw(root=tmp_path)


def test_partially_outside_bbox_is_kept_and_marked(synth_root, tmp_path):
    root = tmp_path / "wflw"
    shutil.copytree(synth_root, root)
    path = rect_attr_path(root, "train")
    lines = [line for _, line in iter_lines(path)]
    face = parse_rect_attr_line(lines[0])
    lines[0] = format_rect_attr_line(replace(face, bbox=(-10, -5, 100, 120)))
    path.write_text("\n".join(lines) + "\n")
    result = index_wflw(root=root)
    assert result.quarantine.empty
    assert bool(result.faces["bbox_clipped"].iloc[0])
    assert not result.faces["bbox_clipped"].iloc[1:].any()


def test_hostile_images_bom_and_degenerate_faces_cost_one_quarantine_row_each(synth_root, tmp_path):
    from tests.images import write_png

    root = tmp_path / "wflw"
    shutil.copytree(synth_root, root)
    path = rect_attr_path(root, "train")
    lines = [line for _, line in iter_lines(path)]
    good = parse_rect_attr_line(lines[0])
    folder = root / "WFLW_images" / "0--Parade"
    real_jpeg = (root / "WFLW_images" / good.image).read_bytes()
    write_png(folder / "claims_60000.png", width=60000, height=60000, valid=False)
    write_png(folder / "huge_24000.png", width=24000, height=24000)  # valid, 576 Mpixel
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "cut.jpg").write_bytes(real_jpeg[: len(real_jpeg) // 2])
    write_png(folder / "cut.png", width=320, height=240)
    (folder / "cut.png").write_bytes((folder / "cut.png").read_bytes()[:-12])  # IEND cut off
    expected = {
        "claims_60000.png": "too large: 60000x60000",
        "huge_24000.png": "too large: 24000x24000",
        "empty.jpg": "empty file",
        "cut.jpg": "truncated JPEG",
        "cut.png": "truncated PNG",
    }
    added = [format_rect_attr_line(replace(good, image=f"0--Parade/{name}")) for name in expected]
    flat = np.repeat(good.landmarks[:1], len(good.landmarks), axis=0)  # every point at one place
    added.append(format_rect_attr_line(replace(good, image="0--Parade/other.jpg", landmarks=flat)))
    (folder / "other.jpg").write_bytes(real_jpeg)
    path.write_text("\ufeff" + "\n".join(lines + added) + "\n", encoding="utf-8")  # with a byte-order mark

    clean = index_wflw(root=synth_root)
    result = index_wflw(root=root)
    assert len(result.faces) == len(clean.faces)  # the first face survives the BOM; nothing else is lost
    q = result.quarantine.set_index("line")["reason"]
    assert len(q) == len(added)
    for n, (name, reason) in enumerate(expected.items()):
        assert reason in q[len(lines) + 1 + n] and name in q[len(lines) + 1 + n], q[len(lines) + 1 + n]
    assert "degenerate landmarks: inter-ocular distance (points 60-72) is 0.00 px" in q[len(lines) + len(added)]
    raised = index_wflw(root=root, max_pixels=10**9).quarantine["reason"].str.cat()  # the limit is a setting
    assert "huge_24000.png" not in raised and "claims_60000.png" in raised
