"""LFW Part Labels: the parser and the study's preprocessing on a small tree in the published layout, fetched from a
loopback mirror with the project's downloader."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from gan_core.lfw_parts import LFW_PARTS_FILES, face_mask_from_truth, index_lfw_parts, load_pair, parse_split_list
from landmark_core.download import fetch_files
from tests.lfw_tree import lfw_tree
from tests.loopback import Loopback, tar_dir


def test_masks_keep_only_face_skin():
    truth = np.zeros((2, 3, 3), np.uint8)
    truth[0, 0], truth[0, 1], truth[0, 2] = (0, 250, 10), (0, 10, 250), (250, 10, 0)  # green, red, blue (BGR)
    assert face_mask_from_truth(truth)[0].tolist() == [255, 0, 0] and face_mask_from_truth(truth)[1].max() == 0


def test_split_lists_parse_and_bad_lines_name_file_and_line(tmp_path):
    listing = tmp_path / "parts_train.txt"
    listing.write_text("Aaron_Peirsol 1\nGeorge_W_Bush 10\n\n")
    expected = [("Aaron_Peirsol", "Aaron_Peirsol_0001"), ("George_W_Bush", "George_W_Bush_0010")]
    assert parse_split_list(path=listing) == expected
    listing.write_text("Aaron_Peirsol 1\nbroken\n")
    with pytest.raises(ValueError, match=r"parts_train.txt:2: expected"):
        parse_split_list(path=listing)


@pytest.mark.server
def test_fetched_from_a_mirror_indexed_with_missing_faces_quarantined(tmp_path):
    source = tmp_path / "source"
    lfw_tree(source, [("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2), ("George_W_Bush", 10)])
    mirror = Loopback()
    mirror.files["lfw-funneled.tgz"] = tar_dir(source, "lfw_funneled")
    mirror.files["parts_lfw_funneled_gt_images.tgz"] = tar_dir(source, "parts_lfw_funneled_gt_images")
    lists = {"train": "Aaron_Peirsol 1\nGeorge_W_Bush 10\n", "validation": "Aaron_Peirsol 2\n", "test": "Nobody 3\n"}
    for split, text in lists.items():
        mirror.files[f"parts_{split}.txt"] = text.encode()
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in mirror.files.items()}
    try:
        report = fetch_files(files=LFW_PARTS_FILES, dest=tmp_path / "lfw", mirror=mirror.url, sha256=digests)
    finally:
        mirror.close()
    assert set(report.actions) == {f.name for f in LFW_PARTS_FILES}
    faces, quarantine = index_lfw_parts(root=tmp_path / "lfw")
    assert [(f.split, f.name) for f in faces] == [
        ("train", "Aaron_Peirsol"),
        ("train", "George_W_Bush"),
        ("validation", "Aaron_Peirsol"),
    ]
    assert quarantine["stem"].tolist() == ["Nobody_0003"] and "missing" in quarantine["reason"].iloc[0]
    image, mask = load_pair(root=tmp_path / "lfw", face=faces[0])
    assert image.shape == (250, 250, 3) and mask.shape == (250, 250)
    assert mask[140, 125] == 255 and mask[40, 125] == 0 and mask[5, 5] == 0
    assert abs((mask > 0).sum() - np.pi * 60**2) < 0.05 * np.pi * 60**2
