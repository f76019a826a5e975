from __future__ import annotations

import numpy as np

from landmark_core.figures import ced_figure, ced_grid, face_crop, prediction_grid
from landmark_core.geometry import apply_points


def test_ced_figure_has_one_curve_per_row_with_its_auc():
    errors = {"a": np.array([0.01, 0.02, 0.2]), "b": np.array([0.05, 0.5])}
    fig = ced_figure(errors=errors, title="t")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2
    x, y = lines[0].get_data()
    assert x[0] == 0 and x[-1] == 10.0 and y[-1] == 2 / 3  # two of three faces under 10 %
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1] == "b (AUC 0.250)"  # half the faces at 5 %: area (10 - 5) / 10 / 2


def test_face_crop_frames_the_landmarks_with_a_margin():
    points = np.array([[100.0, 50.0], [200.0, 50.0], [150.0, 250.0]])
    matrix = face_crop(image=np.zeros((300, 300, 3), np.uint8), points=points, size=160)
    mapped = apply_points(matrix=matrix, points=points)
    assert mapped.min() > 5 and mapped.max() < 155  # inside the panel, not touching its border
    assert np.allclose((mapped.min(axis=0) + mapped.max(axis=0)) / 2, 80.0)


def test_prediction_grid_is_models_by_faces():
    rng = np.random.default_rng(0)
    truth = rng.uniform(40, 80, size=(3, 98, 2))
    images = [np.full((120, 120, 3), 90, np.uint8) for _ in range(3)]
    predictions = {"base": truth + 1.0, "elt": truth - 1.0}
    errors = {"base": np.array([0.1, 0.2, 0.3]), "elt": np.array([0.01, 0.02, 0.03])}
    fig = prediction_grid(images=images, truth=truth, predictions=predictions, errors=errors)
    assert len(fig.axes) == 6
    assert [a.get_title() for a in fig.axes[:3]] == ["10.0%", "20.0%", "30.0%"]
    assert fig.axes[3].get_ylabel() == "elt"


def test_ced_grid_gives_every_row_its_own_style_on_every_subset_panel():
    rng = np.random.default_rng(0)
    rows = [f"row{i}" for i in range(13)]
    panels = {s: {r: rng.uniform(0, 0.1, 20) for r in rows} for s in ("full", "pose", "blur")}
    panels["blur"]["row3"] = np.array([])  # a row without faces in a subset leaves that panel only
    fig = ced_grid(errors=panels, columns=2)
    styles = [(line.get_color(), line.get_linestyle()) for line in fig.axes[0].get_lines()]
    assert len(styles) == len(set(styles)) == 13  # distinguishable beyond ten colours
    assert [(line.get_color(), line.get_linestyle()) for line in fig.axes[1].get_lines()] == styles  # same per panel
    assert len(fig.axes[2].get_lines()) == 12 and not fig.axes[3].axison  # the spare panel is blank
    assert [t.get_text() for t in fig.legends[0].get_texts()] == rows  # one shared legend names the rows
    assert [ax.get_title() for ax in fig.axes[:3]] == ["full", "pose", "blur"]


def test_the_prediction_grid_has_a_legend_and_fixed_axes():
    truth = np.full((1, 98, 2), 60.0)
    far = {"m": truth + 500.0}  # a prediction far off the face stays off the panel, the panel does not grow
    fig = prediction_grid(
        images=[np.zeros((120, 120, 3), np.uint8)], truth=truth, predictions=far, errors={"m": np.array([1.0])}
    )
    assert fig.axes[0].get_xlim() == (0.0, 160.0) and fig.axes[0].get_ylim() == (160.0, 0.0)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["truth", "prediction"]
