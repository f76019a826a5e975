"""Landmarks on one's own photos and videos: given WFLW boxes they are the evaluation's own; several faces per
photo, an EXIF-rotated JPEG, a photo without a face, a broken file and a short video each behave."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from elt_models.boxes import read_boxes
from elt_models.inputs import output_names
from elt_models.predict import POINT_COLUMNS, Predictor, dlib_boxes, predict_inputs, read_photo, smooth_tracks
from elt_models.trained_runs import find_run
from landmark_core.dataset import face_records
from landmark_core.predict import predict_landmarks
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.train import load_checkpoint
from landmark_core.wflw import IMAGES_DIR
from landmark_core.wflw_index import index_wflw

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model(trained_runs_store):
    network, config, _ = load_checkpoint(find_run(trained_runs_store, row="elt").checkpoint)
    return network, config


def _boxes_csv(faces: pd.DataFrame, path):
    table = faces.rename(columns=lambda c: c.removeprefix("bbox_")).assign(
        image=faces["image_path"].map(lambda p: p.split("/")[-1])
    )
    table[["image", "x_min", "y_min", "x_max", "y_max"]].to_csv(path, index=False)
    return read_boxes(path)


@pytest.fixture(scope="module")
def wflw_shaped(tmp_path_factory):
    """A WFLW-shaped twin (1,024-px-wide photos, WFLW's face sizes); its test split has photos of several faces."""
    root = tmp_path_factory.mktemp("wflw-shaped")
    synthesize_wflw(out=root, config=SynthConfig(shape="wflw", fraction=0.003, seed=1))
    return root


def test_given_boxes_reproduce_the_evaluation_for_every_face_of_a_photo(model, wflw_shaped, tmp_path):
    network, config = model
    synth_root = wflw_shaped
    faces = index_wflw(root=synth_root).faces
    faces = faces[faces["split"] == "test"]
    several = faces["image_path"].value_counts()
    photos = list(several[several > 1].index[:2]) + list(several[several == 1].index[:3])
    assert len(photos) == 5 and several[photos[0]] >= 2
    chosen = faces[faces["image_path"].isin(photos)]
    expected = predict_landmarks(
        model=network,
        records=face_records(root=synth_root, faces=chosen),
        augment=config.augment,
        device=CPU,
        decoding=config.decoding,
    )
    predictor = Predictor(model=network, config=config, device=CPU)
    inputs = [synth_root / p for p in photos]
    skipped = predict_inputs(predictor, inputs, tmp_path, given=_boxes_csv(chosen, tmp_path / "boxes.csv"))
    assert skipped.empty and skipped.attrs == {"faces": len(chosen), "written": 5}
    names = output_names(inputs)
    for photo in photos:
        stem = names[synth_root / photo]
        assert stem.endswith(photo.split("/")[-1])  # the file name, suffix kept, under its folder
        table = pd.read_csv(tmp_path / f"{stem}.csv")
        assert table["face"].tolist() == list(range(len(table))) and (table["frame"] == 0).all()
        rows = np.flatnonzero(chosen["image_path"].to_numpy() == photo)
        got = table[POINT_COLUMNS].to_numpy().reshape(-1, 98, 2)
        np.testing.assert_allclose(got, expected[rows], atol=1e-4)
        assert pd.read_json(tmp_path / f"{stem}.json").shape == table.shape
        assert cv2.imread(str(tmp_path / f"{stem}.overlay.jpg")).shape == cv2.imread(str(synth_root / photo)).shape


def test_an_exif_rotated_jpeg_is_read_upright(synth_root, tmp_path):
    photo = next((synth_root / IMAGES_DIR).rglob("*.jpg"))
    upright = cv2.imread(str(photo))
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # EXIF 6: turn 90 degrees clockwise to show
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB)).save(tmp_path / "rotated.jpg", quality=95, exif=exif)
    shown = read_photo(tmp_path / "rotated.jpg")
    assert shown.shape == upright.shape
    assert np.abs(shown.astype(float) - upright).mean() < 4.0


def test_a_photo_without_a_face_a_broken_file_and_a_missing_one_are_skipped_lines(model, tmp_path):
    network, config = model
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((240, 320, 3), 128, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    predictor = Predictor(model=network, config=config, device=CPU, detect=dlib_boxes())
    inputs = [tmp_path / "wall.png", tmp_path / "broken.jpg", tmp_path / "gone.jpg"]
    skipped = predict_inputs(predictor, inputs, tmp_path / "out")
    assert skipped["reason"].tolist() == [
        "no face found",
        "truncated JPEG header",
        "no such file",
    ]
    assert pd.read_csv(tmp_path / "out" / "wall.png.csv").empty
    assert pd.read_csv(tmp_path / "out" / "skipped.csv").shape == (3, 3)


def _detected_photo(synth_root):
    detect = dlib_boxes()
    for photo in sorted((synth_root / IMAGES_DIR).rglob("*test*.jpg")):
        image = cv2.imread(str(photo))
        if len(detect(image)) == 1:
            return image
    pytest.fail("dlib finds no face in the twin's test photos")


def test_a_short_video_with_a_frame_without_a_face(model, synth_root, tmp_path):
    network, config = model
    image = _detected_photo(synth_root)
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (width, height))
    frames = [image, np.roll(image, 4, axis=1), np.full_like(image, 90), np.roll(image, 8, axis=1)]
    for frame in frames:
        writer.write(frame)
    writer.release()
    predictor = Predictor(model=network, config=config, device=CPU, detect=dlib_boxes())
    skipped = predict_inputs(predictor, [tmp_path / "clip.mp4"], tmp_path / "out", smooth=0.5)
    assert skipped[["frame", "reason"]].values.tolist() == [[2, "no face found"]]
    table = pd.read_csv(tmp_path / "out" / "clip.mp4.csv")
    assert table["frame"].tolist() == [0, 1, 3] and (table["face"] == 0).all()
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4.overlay.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    capture.release()


def test_smoothing_follows_the_nearest_face():
    a, b = np.zeros((98, 2)), np.full((98, 2), 100.0)
    previous = np.stack([a, b])
    current = np.stack([b + 2.0, a + 2.0])  # the same two faces, listed the other way round
    smoothed = smooth_tracks(previous, current, alpha=0.5)
    np.testing.assert_allclose(smoothed[0], b + 1.0)
    np.testing.assert_allclose(smoothed[1], a + 1.0)
    np.testing.assert_allclose(smooth_tracks(previous, current, alpha=1.0), current)
    np.testing.assert_allclose(smooth_tracks(None, current, alpha=0.5), current)


def test_a_boxes_file_with_a_missing_column_is_one_line(tmp_path):
    (tmp_path / "boxes.csv").write_text("image,x_min,y_min,x_max\nA.jpg,1,2,3\n")
    with pytest.raises(ValueError, match=r"boxes.csv: missing column\(s\) y_max$"):
        read_boxes(tmp_path / "boxes.csv")
