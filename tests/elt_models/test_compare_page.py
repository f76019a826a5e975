"""Rows compared on the same faces: the disagreement measure, the order, the page (escaped, self-contained), the
command on a store's rows."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from elt_cli.main import app
from elt_models.boxes import read_boxes
from elt_models.compare_page import FacePredictions, compare_html, disagreement, disagreement_table, predict_rows
from landmark_core.wflw_index import index_wflw

runner = CliRunner()


def _face(shift: float, name: str = "a.png", face: int = 0) -> FacePredictions:
    base = np.zeros((98, 2))
    base[72] = [40.0, 0.0]  # inter-ocular distance 40 between the outer eye corners 60 and 72
    return FacePredictions(
        image=Path(name), face=face, box=np.array([0.0, 0.0, 50, 50]), points=np.stack([base, base + [shift, 0.0]])
    )


def test_disagreement_is_mean_distance_over_inter_ocular():
    assert disagreement(_face(0.0).points) == 0.0
    assert disagreement(_face(4.0).points) == pytest.approx(0.1)
    three = np.stack([_face(0.0).points[0], _face(0.0).points[0], _face(4.0).points[1]])
    assert disagreement(three) == pytest.approx((0.0 + 0.1 + 0.1) / 3)


def test_the_table_puts_the_most_disagreeing_face_first():
    table = disagreement_table([_face(1.0, "a.png"), _face(8.0, "b.png"), _face(2.0, "c.png")], ["x", "y"])
    assert table["image"].tolist() == ["b.png", "c.png", "a.png"]


def _photo(folder: Path, name: str) -> Path:
    path = folder / name
    assert cv2.imwrite(str(path), np.full((80, 80, 3), 120, np.uint8))
    return path


def test_the_page_escapes_names_and_embeds_its_pictures(tmp_path):
    hostile = _photo(tmp_path, "<img src=x onerror=alert(1)>.png")
    face = FacePredictions(image=hostile, face=0, box=np.array([10.0, 10, 60, 60]), points=_face(3.0).points + 20)
    page = compare_html(faces=[face], rows=["<b>row</b>", "elt"], details=["(run)", "(run2)"], top=5)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "&lt;b&gt;row&lt;/b&gt;" in page and page.count("data:image/png;base64,") == 1
    assert 'src="http' not in page  # one file: nothing fetched from elsewhere


def test_scripts_and_quotes_from_the_data_come_out_escaped(tmp_path):
    photo = _photo(tmp_path, "<script>alert('x')<script\" \"q.png")  # a file name cannot hold "/"
    face = FacePredictions(image=photo, face=3, box=np.array([10.0, 10, 60, 60]), points=_face(3.0).points + 20)
    rows = ['</title><script>alert("row")</script>', 'it\'s "elt"']
    details = ["(<script>alert(1)</script>)", '(run" onmouseover="x)']
    page = compare_html(faces=[face], rows=rows, details=details, top=5)
    assert "<script" not in page and "</script" not in page and 'onmouseover="' not in page
    assert page.count("</title>") == 1  # the row name did not close the title
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;script&#34; &#34;q.png face 3: disagreement 0.075" in page
    assert "&lt;/title&gt;&lt;script&gt;alert(&#34;row&#34;)&lt;/script&gt; vs it&#39;s &#34;elt&#34;" in page
    assert "(&lt;script&gt;alert(1)&lt;/script&gt;)" in page and "(run&#34; onmouseover=&#34;x)" in page


def test_the_page_shows_the_rows_the_counts_and_the_most_disagreeing_faces_first(tmp_path):
    faces = [
        FacePredictions(image=_photo(tmp_path, f"{name}.png"), face=0, box=np.array([10.0, 10, 60, 60]), points=points)
        for name, points in [("calm", _face(1.0).points + 20), ("wild", _face(8.0).points + 20)]
    ]
    page = compare_html(faces=faces, rows=["baseline", "elt"], details=["(r1, test NME 4.10 %)", "(r2)"], top=1)
    assert "<title>ELT-Repro: baseline vs elt</title>" in page and "<h1>baseline vs elt</h1>" in page
    assert '<span class="dot" style="background: rgb(0, 200, 0)"></span><b>baseline</b> (r1, test NME 4.10 %)' in page
    assert '<span class="dot" style="background: rgb(230, 0, 0)"></span><b>elt</b> (r2)' in page
    assert "2 face(s); mean disagreement 0.113 " in page and "The 1 faces where the rows disagree most" in page
    assert "wild.png face 0: disagreement 0.200" in page and "calm.png" not in page  # top 1: the wilder face
    assert page.count("data:image/png;base64,") == 1 and page.startswith("<!doctype html>")


def test_photos_without_faces_make_a_page_that_says_so():
    page = compare_html(faces=[], rows=["baseline", "elt"], details=["(r1)", "(r2)"], top=5)
    assert "No face found in any photo" in page and "nan" not in page.lower()
    assert "mean disagreement" not in page and "data:image" not in page and "<h1>baseline vs elt</h1>" in page


def test_compare_two_rows_of_a_store_on_a_folder(trained_runs_store, synth_root, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    faces = index_wflw(root=synth_root).faces
    faces = faces[faces["split"] == "test"].head(4)
    for path in faces["image_path"]:
        (photos / Path(path).name).write_bytes((synth_root / path).read_bytes())
    boxes = faces.rename(columns=lambda c: c.removeprefix("bbox_")).assign(
        image=[Path(p).name for p in faces["image_path"]]
    )
    boxes[["image", "x_min", "y_min", "x_max", "y_max"]].to_csv(tmp_path / "boxes.csv", index=False)
    args = ["compare", str(photos), "--row", "baseline", "--row", "elt", "--store", trained_runs_store.url]
    result = runner.invoke(
        app, [*args, "--boxes", str(tmp_path / "boxes.csv"), "--out", str(tmp_path / "c"), "--top", "2"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "c" / "disagreement.csv")
    faces = int(result.output.split(" face(s) compared")[0].split()[-1])
    assert faces == 4 and len(table) == faces and table["disagreement"].is_monotonic_decreasing
    page = (tmp_path / "c" / "compare.html").read_text()
    assert "baseline vs elt" in page and page.count("data:image/png;base64,") == min(2, faces)
    lonely = runner.invoke(app, ["compare", str(photos), "--row", "elt", "--store", trained_runs_store.url])
    assert lonely.exit_code != 0
    pd.DataFrame({"image": ["elsewhere.png"], "x_min": [0], "y_min": [0], "x_max": [9], "y_max": [9]}).to_csv(
        tmp_path / "none.csv", index=False
    )
    empty = runner.invoke(app, [*args, "--boxes", str(tmp_path / "none.csv"), "--out", str(tmp_path / "e")])
    assert empty.exit_code == 0, empty.output
    assert "no face found in any photo: " in empty.output and "face(s) compared" not in empty.output
    assert "No face found in any photo" in (tmp_path / "e" / "compare.html").read_text()


def test_rows_on_photos_of_the_same_name_keep_them_apart_and_skip_what_is_not_comparable(tiny_predictor, tmp_path):
    first, second = _photo(_folder(tmp_path / "a"), "x.png"), _photo(_folder(tmp_path / "b"), "x.png")
    clip = tmp_path / "a" / "clip.mp4"
    clip.write_bytes(b"not looked at")
    boxes = tmp_path / "boxes.csv"
    boxes.write_text(
        "image,x_min,y_min,x_max,y_max\na/x.png,10,10,60,60\n"
        f"{second},10,10,60,60\n{second},0,0,1e9,1e9\n"  # by path as given; a box far outside the photo
    )
    faces, skipped = predict_rows([tiny_predictor, tiny_predictor], [first, second, clip], given=read_boxes(boxes))
    assert [(f.label, f.face) for f in faces] == [("a/x.png", 0), ("b/x.png", 0)]
    assert [s["input"] for s in skipped] == [str(second), str(clip)]
    assert skipped[0]["reason"].startswith("box (0, 0, 1e+09, 1e+09) of line 4 lies outside the 80x80 photo")
    assert skipped[1]["reason"] == "compare takes photos, not videos"
    page = compare_html(faces=faces, rows=["r1", "r2"], details=["(1)", "(2)"], top=5)
    assert "a/x.png face 0: disagreement 0.000" in page and "b/x.png face 0: disagreement 0.000" in page


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_compare_command_lists_what_it_skipped_in_a_file(trained_runs_store, synth_root, tmp_path):
    photos = _folder(tmp_path / "photos")
    faces = index_wflw(root=synth_root).faces
    path = faces[faces["split"] == "test"]["image_path"].iloc[0]
    (photos / Path(path).name).write_bytes((synth_root / path).read_bytes())
    (photos / "notes.txt").write_text("x")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "none.csv").write_text("image,x_min,y_min,x_max,y_max\n")
    args = ["compare", str(photos), "--row", "baseline", "--row", "elt", "--store", trained_runs_store.url]
    result = runner.invoke(app, [*args, "--boxes", str(tmp_path / "none.csv"), "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    skipped = pd.read_csv(tmp_path / "c" / "skipped.csv")
    assert dict(zip(skipped["input"].map(lambda p: Path(p).name), skipped["reason"], strict=True)) == {
        "notes.txt": "not a photo or video (.txt)",
        "broken.png": "corrupt PNG (no IHDR chunk)",
        Path(path).name: "no box given for it",
    }
    assert "nan" not in result.output.lower() and "no face found in any photo" in result.output
