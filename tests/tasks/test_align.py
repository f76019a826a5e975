"""GAN-branch geometry stages on the synthetic twin: align (detect + FFHQ record), filter (keep rules + aligned
images), and the odd inputs a real dataset has."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gan_core.align import AlignConfig, render_aligned
from gan_core.face_filter import FilterConfig
from kit.stage import Runtime
from kit.store import Store
from landmark_core.image_size import DEFAULT_MAX_PIXELS
from landmark_core.synth.dataset import SynthConfig
from tasks.align import DetectConfig, _detect_image, align, record_of
from tasks.dataset_tree import dataset_root
from tasks.filter_faces import filter_faces

SMALL_ALIGN = AlignConfig(output_size=256, transform_size=1024)


@pytest.fixture(scope="module")
def twin(tmp_path_factory, publish_twin):
    twin = publish_twin(Store(tmp_path_factory.mktemp("store")), SynthConfig(train=12, test=2, seed=4))
    return twin.store, twin.dataset, twin.index


def test_align_records_every_detection_and_quarantines_images_without_one(twin):
    store, dataset, index = twin
    config = DetectConfig(align=SMALL_ALIGN)
    aligned, computed = align.run(store=store, config=config, runtime=Runtime(workers=2), dataset=dataset, index=index)
    info, manifest, quarantine = aligned.metadata()["info"], aligned.manifest(), aligned.quarantine()
    train_images = index.manifest().query("split == 'train'")["image_path"].nunique()
    assert computed and info["images"] == train_images
    assert info["images_with_detection"] + len(quarantine) == train_images and info["detections"] == len(manifest)
    assert info["images_with_detection"] >= 0.6 * train_images  # dlib finds most of the twin's faces
    assert set(quarantine["reason"]) <= {"no face detected"}
    row = manifest.iloc[0]
    assert len(row["landmarks68"]) == 136 and len(row["quad"]) == 8 and row["source_mode"] == "bgr"
    assert align.run(store=store, config=config, dataset=dataset, index=index)[1] is False  # cached, 1 or 2 workers


def test_filter_keeps_large_overlapping_faces_with_their_aligned_image_and_says_why_others_went(twin):
    store, dataset, index = twin
    aligned, _ = align.run(store=store, config=DetectConfig(align=SMALL_ALIGN), dataset=dataset, index=index)
    inputs = {"dataset": dataset, "index": index, "aligned": aligned}
    loose, _ = filter_faces.run(store=store, config=FilterConfig(min_pixels=2500), **inputs)
    strict, _ = filter_faces.run(store=store, config=FilterConfig(), **inputs)
    for out in (loose, strict):
        assert len(out.manifest()) + len(out.quarantine()) == len(aligned.manifest())
    kept = loose.manifest()
    assert len(kept) >= 1 and kept["iou"].gt(0).all() and kept["wflw_face_id"].notna().all()
    assert set(kept["wflw_face_id"]) <= set(index.manifest()["face_id"])
    first = kept.iloc[0]
    image = cv2.imread(str(loose.local_dir() / first["aligned_path"]))
    assert image.shape == (256, 256, 3)
    photo = cv2.imread(str(dataset_root(dataset) / first["image_path"]))
    again = render_aligned(image=photo, record=record_of(first, output_size=256), config=SMALL_ALIGN)
    assert np.array_equal(again, image)  # the stored record reproduces the aligned image exactly
    dropped = strict.quarantine()
    too_small = dropped["reason"].str.startswith("too small")
    assert too_small.sum() >= len(kept) - len(strict.manifest())  # the 150x150 rule is what the loose run relaxed
    assert strict.metadata()["info"]["dropped_by_reason"].get("too small", 0) == too_small.sum()


def test_odd_photos_are_converted_or_quarantined_with_a_reason(twin, tmp_path):
    _, dataset, index = twin
    root = dataset_root(dataset)
    face_image = index.manifest().query("split == 'train'")["image_path"].iloc[0]
    photo = cv2.imread(str(root / face_image))
    (tmp_path / "ev").mkdir()
    data = (root / face_image).read_bytes()
    (tmp_path / "ev" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    cv2.imwrite(str(tmp_path / "ev" / "gray.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "ev" / "rgba.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(tmp_path / "ev" / "blank.png"), np.full((300, 300, 3), 128, np.uint8))
    (tmp_path / "ev" / "text.jpg").write_text("not an image")

    def run(name):
        return _detect_image((str(tmp_path), f"ev/{name}", 1, SMALL_ALIGN, DEFAULT_MAX_PIXELS))

    assert run("truncated.jpg") == ([], "ev/truncated.jpg: truncated JPEG (no end-of-image marker)")
    assert run("blank.png") == ([], "no face detected")
    assert run("missing.png")[1] == "ev/missing.png: no such file"
    assert run("text.jpg")[1] == "ev/text.jpg: not an image (no known image format)"  # refused from its header
    original, _ = _detect_image((str(root), face_image, 1, SMALL_ALIGN, DEFAULT_MAX_PIXELS))
    for name, mode in (("gray.png", "grayscale"), ("rgba.png", "bgra")):
        rows, reason = run(name)
        assert reason is None and {r["source_mode"] for r in rows} == {mode}, (name, reason)
    assert len(run("rgba.png")[0]) == len(original)
