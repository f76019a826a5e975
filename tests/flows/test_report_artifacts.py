"""The report's Prefect artifact stays small: figures as JPEG thumbnails within a budget, the rest named."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from flows.report_artifacts import artifact_markdown, thumbnail_uri


def _figures(folder, sides):
    (folder / "figures").mkdir()
    rng = np.random.default_rng(0)
    for n, side in enumerate(sides):
        cv2.imwrite(str(folder / "figures" / f"f{n}.png"), rng.integers(0, 255, (side, side * 2, 3), dtype=np.uint8))


def test_a_thumbnail_keeps_the_aspect_and_shrinks_only_large_figures(tmp_path):
    _figures(tmp_path, [1000, 100])
    big = cv2.imdecode(
        np.frombuffer(base64.b64decode(thumbnail_uri(tmp_path / "figures/f0.png").split(",")[1]), np.uint8), 1
    )
    small = cv2.imdecode(
        np.frombuffer(base64.b64decode(thumbnail_uri(tmp_path / "figures/f1.png").split(",")[1]), np.uint8), 1
    )
    assert big.shape[:2] == (360, 720) and small.shape[:2] == (100, 200)


def test_figures_past_the_budget_are_named_not_embedded(tmp_path):
    _figures(tmp_path, [600, 600, 600])
    markdown = "# R\n\n![first](figures/f0.png)\n\n![second](figures/f1.png)\n\n![third](figures/f2.png)\n|a|b|\n"
    one = len(thumbnail_uri(tmp_path / "figures/f0.png"))
    shown = artifact_markdown(markdown, tmp_path, budget_bytes=int(one * 1.5))
    assert shown.count("data:image/jpeg;base64,") == 1 and "![first](data:image/jpeg" in shown
    assert "*(figure second: past this page's size budget; the file is " in shown and "f2.png)*" in shown
    assert "figures/f1.png)" not in shown.replace(str(tmp_path / "figures" / "f1.png"), "")
    assert shown.endswith("|a|b|\n")
    everything = artifact_markdown(markdown, tmp_path)
    assert everything.count("data:image/jpeg;base64,") == 3 and len(everything) < 1_000_000


def test_a_markdown_without_figures_is_unchanged(tmp_path):
    _figures(tmp_path, [50])
    assert artifact_markdown("no pictures", tmp_path) == "no pictures"
