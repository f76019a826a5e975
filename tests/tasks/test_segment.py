"""segment_train -> segment -> paste on the synthetic twin: scores, masks, and pasted faces in WFLW format."""

from __future__ import annotations

import importlib.util
import os

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


from gan_core.align import AlignConfig  # noqa: E402
from gan_core.face_filter import FilterConfig  # noqa: E402
from gan_core.segment import SegmenterConfig  # noqa: E402
from kit.store import Store  # noqa: E402
from landmark_core.synth.dataset import SynthConfig  # noqa: E402
from landmark_core.wflw_index import landmarks_array  # noqa: E402
from tasks.align import DetectConfig, align  # noqa: E402
from tasks.dataset_tree import dataset_root  # noqa: E402
from tasks.filter_faces import filter_faces  # noqa: E402
from tasks.paste import PasteConfig, paste  # noqa: E402
from tasks.segment import SegmentConfig, segment  # noqa: E402
from tasks.segment_train import SegmentTrainConfig, segment_train  # noqa: E402

pytestmark = [  # every test trains the segmenter with TensorFlow (about 15 s); TensorFlow is imported by the stage
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("keras") is None, reason="the segmenter needs the seg extra (tensorflow-cpu)"
    ),
]

TINY_NET = SegmenterConfig(input_size=64, width=0.25, fc_channels=64, epochs=16, lr=1e-2, lr_step=12, batch_size=4)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, publish_twin):
    twin = publish_twin(Store(tmp_path_factory.mktemp("store")), SynthConfig(train=24, test=2, seed=4))
    store, dataset, index = twin.store, twin.dataset, twin.index
    detect = DetectConfig(align=AlignConfig(output_size=256, transform_size=1024))
    aligned, _ = align.run(store=store, config=detect, dataset=dataset, index=index)
    config = FilterConfig(min_pixels=4000)
    filtered, _ = filter_faces.run(store=store, config=config, dataset=dataset, index=index, aligned=aligned)
    config = SegmentTrainConfig(network=TINY_NET)
    trained, _ = segment_train.run(store=store, config=config, dataset=dataset, index=index)
    assert "no ImageNet VGG16 weights" in trained.metadata()["info"]["warning"]
    return store, dataset, index, filtered, trained


def test_segment_train_reports_held_out_accuracy_and_iou(chain):
    *_, trained = chain
    info = trained.metadata()["info"]
    assert info["backbone"].startswith("random init") and info["heldout_faces"] >= 1
    assert info["pixel_accuracy"] > 0.85 and 0.5 < info["iou"] <= 1.0
    assert len(trained.manifest()) == TINY_NET.epochs and (trained.local_dir() / "segmenter.weights.h5").is_file()


def test_segment_and_paste_make_new_wflw_faces_that_match_the_photo_inside_the_face(chain):
    store, dataset, index, filtered, trained = chain
    assert len(filtered.manifest()) >= 1
    masks, _ = segment.run(store=store, config=SegmentConfig(), filtered=filtered, trained=trained)
    first = masks.manifest().iloc[0]
    mask = cv2.imread(str(masks.local_dir() / first["mask_path"]), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (256, 256) and set(np.unique(mask)) <= {0, 255} and 0.05 < first["face_fraction"] < 0.95
    inputs = {"dataset": dataset, "index": index, "filtered": filtered, "masks": masks}
    pasted, _ = paste.run(store=store, config=PasteConfig(), **inputs)
    faces = pasted.manifest()
    assert len(faces) == len(filtered.manifest()) and faces["face_id"].str.startswith("paste:").all()
    assert faces["psnr_in_face"].median() >= 35.0, faces["psnr_in_face"].tolist()  # the unedited round trip
    source = index.manifest().set_index("face_id").loc[faces["source_face_id"]]
    assert np.array_equal(landmarks_array(faces), landmarks_array(source))  # same annotation, new image
    row = faces.iloc[0]
    out = cv2.imread(str(pasted.local_dir() / row["image_path"]))
    photo_path = source.loc[row["source_face_id"], "image_path"]
    photo = cv2.imread(str(dataset_root(dataset) / (photo_path.iloc[0] if hasattr(photo_path, "iloc") else photo_path)))
    assert out.shape == photo.shape
    diff = np.abs(out.astype(int) - photo.astype(int)).max(axis=2)
    assert (diff > 0).mean() < 0.5 and np.percentile(diff[diff > 0], 50) <= 12  # the unedited face goes back in place


@pytest.mark.server
def test_segment_train_on_lfw_part_labels_fetched_from_a_mirror(tmp_path):
    from tests.lfw_tree import lfw_tree
    from tests.loopback import Loopback, tar_dir

    source = tmp_path / "source"
    lfw_tree(source, [("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2), ("George_W_Bush", 10), ("George_W_Bush", 11)])
    mirror = Loopback()
    mirror.files["lfw-funneled.tgz"] = tar_dir(source, "lfw_funneled")
    mirror.files["parts_lfw_funneled_gt_images.tgz"] = tar_dir(source, "parts_lfw_funneled_gt_images")
    lists = {
        "train": "Aaron_Peirsol 1\nAaron_Peirsol 2\nGeorge_W_Bush 10\n",
        "validation": "",
        "test": "George_W_Bush 11\n",
    }
    for split, text in lists.items():
        mirror.files[f"parts_{split}.txt"] = text.encode()
    network = SegmenterConfig(input_size=32, width=0.125, fc_channels=8, epochs=1)
    config = SegmentTrainConfig(
        data="lfw",
        lfw_dest=str(tmp_path / "lfw"),
        lfw_mirror=mirror.url,
        lfw_trust_first_download=True,
        network=network,
    )
    try:
        trained, computed = segment_train.run(store=Store(tmp_path / "store"), config=config)
    finally:
        mirror.close()
    info = trained.metadata()["info"]
    assert "no ImageNet VGG16 weights" in info["warning"]
    assert computed and info["train_faces"] == 3 and info["heldout_faces"] == 1 and trained.metadata()["inputs"] == {}
