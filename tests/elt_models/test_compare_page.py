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
from elt_models.compare_page import FacePredictions, compare_html, disagreement, disagreement_table
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


def test_the_page_escapes_names_and_embeds_its_pictures(tmp_path):
    hostile = tmp_path / "<img src=x onerror=alert(1)>.png"
    cv2.imwrite(str(hostile), np.full((80, 80, 3), 120, np.uint8))
    face = FacePredictions(image=hostile, face=0, box=np.array([10.0, 10, 60, 60]), points=_face(3.0).points + 20)
    page = compare_html(faces=[face], rows=["<b>row</b>", "elt"], details=["(run)", "(run2)"], top=5)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "&lt;b&gt;row&lt;/b&gt;" in page and page.count("data:image/png;base64,") == 1
    assert 'src="http' not in page  # one file: nothing fetched from elsewhere


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
