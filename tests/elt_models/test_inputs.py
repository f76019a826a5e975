"""Every input accounted for, no output replacing another, every given box checked: links, pipes, non-images,
unreadable files, same names in different folders, boxes that are not boxes, hostile headers (memory bounded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pandas as pd
import pytest

from elt_models.boxes import BOX_MARGIN, fitting_boxes, read_boxes
from elt_models.inputs import find_inputs, output_files, output_names
from elt_models.predict import POINT_COLUMNS, finite_faces, predict_inputs, read_photo
from tests.landmark_core.test_image_size import BOMBS


def _photo(path, *, width=96, height=80):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(len(str(path))).integers(0, 255, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def _reasons(found) -> dict[str, str]:
    return {os.path.basename(row["input"]): row["reason"] for row in found.skipped}


def test_a_folder_of_links_pipes_and_other_files_is_accounted_for_entry_by_entry(tmp_path):
    folder, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    _photo(folder / "a.jpg")
    _photo(folder / "sub" / "b.png")
    _photo(elsewhere / "c.jpg")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "README").write_text("no suffix")
    (folder / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (folder / "loop1.jpg").symlink_to(folder / "loop2.jpg")
    (folder / "loop2.jpg").symlink_to(folder / "loop1.jpg")
    (folder / "outside.jpg").symlink_to(elsewhere / "c.jpg")  # a link to a regular file is followed ...
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)  # ... a link to a folder is not
    (folder / "self").symlink_to(folder, target_is_directory=True)  # so a loop of folders ends at once
    os.mkfifo(folder / "pipe.jpg")
    found = find_inputs([folder, folder / "a.jpg", tmp_path / "gone.jpg"])
    assert [p.relative_to(folder).as_posix() for p in found.files] == ["a.jpg", "outside.jpg", "sub/b.png"]
    assert _reasons(found) == {
        "README": "not a photo or video (no suffix)",
        "dangling.jpg": f"broken link (its target {tmp_path / 'nowhere.jpg'} does not exist)",
        "linked": "link to a folder (not followed; name the folder itself)",
        "loop1.jpg": "link loop",
        "loop2.jpg": "link loop",
        "notes.txt": "not a photo or video (.txt)",
        "pipe.jpg": "not a regular file",
        "self": "link to a folder (not followed; name the folder itself)",
        "a.jpg": "named twice (processed once)",
        "gone.jpg": "no such file or folder",
    }
    entries = sum(len(dirs) + len(files) for _, dirs, files in os.walk(folder)) - 1  # every entry but "sub"
    assert len(found.files) + len(found.skipped) == entries + 2  # + the repeat and the missing file named


def test_named_links_are_followed_or_refused_with_their_reason(tmp_path):
    _photo(tmp_path / "real" / "x.jpg")
    (tmp_path / "x-link.jpg").symlink_to(tmp_path / "real" / "x.jpg")
    (tmp_path / "dir-link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    os.mkfifo(tmp_path / "named-pipe")
    found = find_inputs([tmp_path / "x-link.jpg", tmp_path / "dir-link", tmp_path / "loop", tmp_path / "named-pipe"])
    assert found.files == [tmp_path / "x-link.jpg", tmp_path / "dir-link" / "x.jpg"]
    assert _reasons(found) == {"loop": "link loop", "named-pipe": "not a regular file"}


def test_the_output_folder_inside_an_input_folder_is_not_read(tmp_path):
    _photo(tmp_path / "a.jpg")
    _photo(tmp_path / "predictions" / "a.jpg.overlay.jpg")
    found = find_inputs([tmp_path], exclude=tmp_path / "predictions")
    assert found.files == [tmp_path / "a.jpg"]
    assert _reasons(found) == {"predictions": "the output folder (not read)"}


def test_output_names_are_unique_per_input_and_mirror_the_folders(tmp_path):
    inputs = [
        tmp_path / "a" / "x.jpg",
        tmp_path / "b" / "x.jpg",
        tmp_path / "a" / "x.png",
        tmp_path / "b" / "c" / "v.mp4",
    ]
    names = output_names(inputs)
    assert list(names.values()) == ["a/x.jpg", "b/x.jpg", "a/x.png", "b/c/v.mp4"]
    assert output_names([tmp_path / "one.jpg"]) == {tmp_path / "one.jpg": "one.jpg"}
    assert output_names([tmp_path / "skipped", tmp_path / "y.jpg"])[tmp_path / "skipped"] == "skipped.input"
    planned = output_files(inputs, tmp_path / "out")
    assert len(set(planned)) == len(planned) == 1 + 3 * len(inputs)
    assert tmp_path / "out" / "b" / "c" / "v.mp4.overlay.mp4" in planned


def test_two_photos_of_the_same_name_in_different_folders_both_keep_their_landmarks(tiny_predictor, tmp_path):
    first = _photo(tmp_path / "in" / "a" / "x.jpg", width=96)
    second = _photo(tmp_path / "in" / "b" / "x.jpg", width=120)
    pd.DataFrame(
        {"image": ["a/x.jpg", str(second)], "x_min": [10, 60], "y_min": [10, 20], "x_max": [60, 110], "y_max": [60, 70]}
    ).to_csv(tmp_path / "boxes.csv", index=False)
    skipped = predict_inputs(
        tiny_predictor, [first, second], tmp_path / "out", given=read_boxes(tmp_path / "boxes.csv")
    )
    assert skipped.empty and skipped.attrs == {"faces": 2, "written": 2}
    tables = [pd.read_csv(tmp_path / "out" / f"{name}.csv") for name in ("a/x.jpg", "b/x.jpg")]
    assert [t["x_min"].tolist() for t in tables] == [[10.0], [60.0]]
    assert cv2.imread(str(tmp_path / "out" / "b" / "x.jpg.overlay.jpg")).shape == (80, 120, 3)
    assert json.loads((tmp_path / "out" / "a" / "x.jpg.json").read_text())[0]["x_max"] == 60.0


def test_a_bare_file_name_shared_by_two_inputs_gives_boxes_to_neither(tiny_predictor, tmp_path):
    inputs = [_photo(tmp_path / "a" / "x.jpg"), _photo(tmp_path / "b" / "x.jpg")]
    (tmp_path / "boxes.csv").write_text("image,x_min,y_min,x_max,y_max\nx.jpg,10,10,50,50\n")
    skipped = predict_inputs(tiny_predictor, inputs, tmp_path / "out", given=read_boxes(tmp_path / "boxes.csv"))
    assert len(skipped) == 2 and skipped["reason"].str.contains("names x.jpg, a name several inputs have").all()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("p.jpg,nan,1,20,20", "line 3: x_min = 'nan' is not a finite number"),
        ("p.jpg,1,,20,20", "line 3: y_min is empty"),
        ("p.jpg,1,1,inf,20", "line 3: x_max = 'inf' is not a finite number"),
        ("p.jpg,1,1,20,abc", "line 3: y_max = 'abc' is not a finite number"),
        ("p.jpg,20,1,10,20", r"line 3: box \(20, 1, 10, 20\) must be at least a pixel wide and high"),
        ("p.jpg,1,5,20,5", r"line 3: box \(1, 5, 20, 5\) must be at least a pixel wide and high"),
        (",1,1,20,20", "line 3: no image"),
    ],
)
def test_a_box_that_is_not_a_box_refuses_the_file_naming_its_line(tmp_path, line, message):
    (tmp_path / "boxes.csv").write_text(f"image,x_min,y_min,x_max,y_max\nok.jpg,1,1,20,20\n{line}\n")
    with pytest.raises(ValueError, match=f"boxes.csv {message}") as caught:
        read_boxes(tmp_path / "boxes.csv")
    assert "\n" not in str(caught.value)


def test_a_boxes_file_that_is_no_table_is_one_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    for name in ("empty.csv", "binary.csv"):
        with pytest.raises(ValueError, match=f"{name}: cannot read the boxes") as caught:
            read_boxes(tmp_path / name)
        assert "\n" not in str(caught.value)


def test_boxes_fit_the_photo_within_the_margin(tmp_path):
    width, height = 200, 100
    reach = [-BOX_MARGIN * width, -BOX_MARGIN * height, (1 + BOX_MARGIN) * width, (1 + BOX_MARGIN) * height]
    boxes = np.array([[10, 10, 50, 50], reach, [-101, 0, 50, 50], [0, 0, 1e10, 1e10]], dtype=float)
    kept, reasons = fitting_boxes(boxes, [2, 3, 4, 5], width=width, height=height)
    np.testing.assert_array_equal(kept, boxes[:2])
    assert reasons == [
        "box (-101, 0, 50, 50) of line 4 lies outside the 200x100 photo by more than 50% of its size",
        "box (0, 0, 1e+10, 1e+10) of line 5 lies outside the 200x100 photo by more than 50% of its size",
    ]


def test_a_huge_box_skips_that_face_and_keeps_the_others(tiny_predictor, tmp_path):
    photo = _photo(tmp_path / "p.jpg")
    (tmp_path / "boxes.csv").write_text(
        "image,x_min,y_min,x_max,y_max\np.jpg,10,10,60,60\np.jpg,0,0,1e10,1e10\np.jpg,-20,-20,30,30\n"
    )
    skipped = predict_inputs(tiny_predictor, [photo], tmp_path / "out", given=read_boxes(tmp_path / "boxes.csv"))
    assert skipped["reason"].tolist() == [
        "box (0, 0, 1e+10, 1e+10) of line 3 lies outside the 96x80 photo by more than 50% of its size"
    ]
    table = pd.read_csv(tmp_path / "out" / "p.jpg.csv")
    assert table["face"].tolist() == [0, 1] and table["x_min"].tolist() == [10.0, -20.0]
    points = table[POINT_COLUMNS].to_numpy()
    assert np.isfinite(points).all() and np.abs(points).max() < 1000


def test_faces_with_landmarks_that_are_not_finite_are_left_out():
    points = np.zeros((3, 98, 2))
    points[1, 5, 0] = np.nan
    boxes = np.arange(12.0).reshape(3, 4)
    kept, kept_boxes, reasons = finite_faces(points, boxes)
    assert len(kept) == 2 and kept_boxes[:, 0].tolist() == [0.0, 8.0]
    assert reasons == ["face 1: the model gave non-finite landmarks"]


def test_an_unreadable_file_is_a_skipped_line(tiny_predictor, tmp_path):
    if os.path.exists("/proc/self/mem"):  # readable by name, but reading it fails even for root
        (tmp_path / "mem.jpg").symlink_to("/proc/self/mem")
        with pytest.raises(ValueError, match=r"mem.jpg: cannot read the file \(Input/output error\)$"):
            read_photo(tmp_path / "mem.jpg")
    locked = _photo(tmp_path / "locked.jpg")
    locked.chmod(0)
    try:
        if os.geteuid() == 0:
            pytest.skip("root reads a file without read permission; /proc/self/mem covered the unreadable shape")
        skipped = predict_inputs(tiny_predictor, [locked], tmp_path / "out")
        assert skipped["reason"].tolist() == ["cannot read the file (Permission denied)"]
    finally:
        locked.chmod(0o644)


@pytest.mark.parametrize("suffix", sorted(BOMBS))
def test_a_header_bomb_is_a_skipped_line_before_any_decode(tmp_path, suffix):
    (tmp_path / f"bomb.{suffix}").write_bytes(BOMBS[suffix](12_000, 12_000))
    with pytest.raises(ValueError, match=r"too large: 12000x12000 = 144.0 Mpixel"):
        read_photo(tmp_path / f"bomb.{suffix}")


HOSTILE_RUN = textwrap.dedent(
    """
    import json, resource, sys, torch
    from pathlib import Path
    from elt_models.inputs import find_inputs
    from elt_models.predict import Predictor, predict_inputs
    from landmark_core.train_config import TrainConfig

    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    found = find_inputs([folder])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    predictor = Predictor(model=torch.nn.Identity(), config=TrainConfig(), device=torch.device("cpu"))
    table = predict_inputs(predictor, found.files, out, skipped=found.skipped)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"reasons": table["reason"].tolist(), "extra_mb": (after - before) / 1024}))
    """
)


def test_a_folder_of_header_bombs_costs_no_more_memory_than_a_photo(tmp_path):
    """Before the header check covered every format, decoding the two GIFs alone peaked 2.8 GB above the imports
    (measured; a 400 Mpixel BGR image is 1.2 GB). Now each file is refused from its header: the peak RSS of the
    run, measured in a fresh process, does not rise above what importing the libraries took."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    for suffix, make in BOMBS.items():
        (folder / f"big.{suffix}").write_bytes(make(20_000, 20_000))  # above Pillow's bomb limit
        (folder / f"mid.{suffix}").write_bytes(make(12_000, 12_000))  # below it, above max_pixels
    run = subprocess.run(
        [sys.executable, "-c", HOSTILE_RUN, str(folder), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.getcwd(),
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(result["reasons"]) == 8 and all(r.startswith("too large: ") for r in result["reasons"])
    assert result["extra_mb"] < 150, result  # measured: 0 MB above the imports' own peak; decoding: 2.8 GB
