"""The VGG16-FCN face segmenter (Keras on TensorFlow), on small synthetic crops with a narrow network."""

from __future__ import annotations

import importlib.util
import os

import cv2
import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21's oneDNN path aborts on this machine
# TensorFlow is imported by the tests that use it, not at collection (about 4 s in every pytest worker)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None, reason="the segmenter needs the seg extra (tensorflow-cpu)"
)

from gan_core.segment import (  # noqa: E402
    SegmenterConfig,
    build_segmenter,
    crop_square,
    face_square,
    mask_scores,
    predict_masks,
    step_decay,
    train_segmenter,
)
from landmark_core.synth.dataset import SYNTH_DIR  # noqa: E402
from landmark_core.wflw_index import index_wflw  # noqa: E402

TINY = SegmenterConfig(input_size=64, width=0.25, fc_channels=64, epochs=16, lr=1e-2, lr_step=12, batch_size=4)


@pytest.fixture(scope="module")
def crops(synth_root):
    """LFW-like 64x64 face crops of the twin with their true face masks."""
    faces = index_wflw(root=synth_root).faces
    truth = pd.concat(
        [pd.read_parquet(synth_root / SYNTH_DIR / f"truth_{s}.parquet").assign(split=s) for s in ("train", "test")]
    )
    faces = faces.merge(truth[["split", "line", "mask"]], on=["split", "line"])
    images, masks = [], []
    for _, row in faces.iterrows():
        photo = cv2.imread(str(synth_root / row["image_path"]))
        mask = cv2.imread(str(synth_root / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127
        square = face_square(box=(row["bbox_x_min"], row["bbox_y_min"], row["bbox_x_max"], row["bbox_y_max"]))
        images.append(cv2.cvtColor(crop_square(image=photo, square=square, size=64), cv2.COLOR_BGR2RGB))
        masks.append(crop_square(image=mask.astype(np.uint8), square=square, size=64, mask=True))
    return np.stack(images), np.stack(masks).astype(np.float32)


def test_the_network_is_vgg16_fcn16s():
    model = build_segmenter(config=SegmenterConfig(width=0.125, fc_channels=16))
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 224, 224, 1)
    names = [layer.name for layer in model.layers]
    assert names.count("block5_pool") == 1 and {"fc6", "fc7", "score_pool4", "upscore2", "upscore16"} <= set(names)
    assert (
        model.get_layer("fc6").kernel.shape[:2] == (7, 7) and model.get_layer("mask").activation.__name__ == "sigmoid"
    )


@pytest.mark.slow
def test_training_learns_the_face_region_on_held_out_crops(crops):
    images, masks = crops
    held = len(images) // 4
    model = build_segmenter(config=TINY)
    before = mask_scores(predicted=predict_masks(model=model, images_rgb=images[:held]), truth=masks[:held])
    losses = train_segmenter(model=model, images_rgb=images[held:], masks=masks[held:], config=TINY)
    after = mask_scores(predicted=predict_masks(model=model, images_rgb=images[:held]), truth=masks[:held])
    assert losses[-1] < 0.6 * losses[0]
    assert after["pixel_accuracy"] > 0.85 and after["iou"] > max(0.4, before["iou"] + 0.2), (before, after)


def test_step_decay_halves_every_step():
    schedule = step_decay(config=SegmenterConfig(lr=0.01, lr_drop=0.5, lr_step=10))
    assert [schedule(e) for e in (0, 9, 10, 25)] == [0.01, 0.01, 0.005, 0.0025]


def test_imagenet_backbone_weights_load_layer_by_layer(tmp_path):
    import keras

    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    vgg.save_weights(path)
    model = build_segmenter(config=SegmenterConfig(input_size=32, fc_channels=8), vgg16_weights=path)
    for name in ("block1_conv1", "block5_conv3"):
        for ours, theirs in zip(model.get_layer(name).get_weights(), vgg.get_layer(name).get_weights(), strict=True):
            assert np.array_equal(ours, theirs)
    with pytest.raises(ValueError, match="width 1.0"):
        build_segmenter(config=SegmenterConfig(input_size=32, width=0.5, fc_channels=8), vgg16_weights=path)
    with pytest.raises(FileNotFoundError):
        build_segmenter(config=SegmenterConfig(input_size=32, fc_channels=8), vgg16_weights=tmp_path / "none.h5")


def test_scores_of_known_masks():
    truth = np.zeros((1, 4, 4))
    truth[0, :2] = 1
    predicted = np.zeros((1, 4, 4))
    predicted[0, :1] = 0.9
    scores = mask_scores(predicted=predicted, truth=truth)
    assert scores == {"pixel_accuracy": 12 / 16, "iou": 0.5}
