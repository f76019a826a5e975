"""The paired-view dataset on the synthetic twin: tensors, determinism, and exact relations between views."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from landmark_core.dataset import ViewDataset, face_records
from landmark_core.losses import map_points, relate_views
from landmark_core.sampler import AugmentConfig, train_copies, train_steps
from landmark_core.wflw_index import index_wflw


@pytest.fixture(scope="module")
def records(synth_root: Path):
    faces = index_wflw(root=synth_root).faces
    return face_records(root=synth_root, faces=faces[faces["split"] == "train"])


PAIRS = AugmentConfig(r1=0.05, r2=0.05)


def _dataset(records, seed=0, config=PAIRS):
    return ViewDataset(records=records, steps=train_steps(config), size=config.size, seed=seed)


def test_items_hold_two_views_with_their_transforms(records):
    item = _dataset(records)[0]
    assert item["image"].shape == (2, 3, 128, 128) and item["image"].dtype == torch.uint8
    assert item["landmarks"].shape == (2, 98, 2) and item["visible"].shape == (2, 98)
    assert item["matrix"].shape == (2, 3, 3) and item["matrix"].dtype == torch.float64
    inside = ((item["landmarks"] >= 0) & (item["landmarks"] < 128)).all(-1)
    assert not (item["visible"] & ~inside).any()  # a landmark outside the crop is never "visible"


def test_ground_truth_mapped_from_view_one_lands_on_view_two(records):
    loader = DataLoader(_dataset(records, config=AugmentConfig(flip_p=0.5, r1=0.05, r2=0.05)), batch_size=8)
    for batch in loader:
        transform, index = relate_views(matrix=batch["matrix"], perm=batch["perm"], source=0, target=1)
        mapped = map_points(transform=transform, index=index, points=batch["landmarks"][:, 0].double())
        assert (mapped - batch["landmarks"][:, 1].double()).abs().max() < 0.5


def test_a_loader_batch_of_six_pairs_is_twelve_images(records):
    batch = next(iter(DataLoader(_dataset(records), batch_size=6)))
    assert batch["image"].shape == (6, 2, 3, 128, 128) and batch["image"].flatten(0, 1).shape[0] == 12
    assert batch["matrix"].shape == (6, 2, 3, 3) and batch["perm"].shape == (6, 2, 98)


def test_same_seed_epoch_index_gives_the_same_item_whatever_the_workers(records):
    a, b = _dataset(records), _dataset(records)
    assert torch.equal(a[3]["image"], b[3]["image"])
    b.set_epoch(1)
    assert not torch.equal(a[3]["matrix"], b[3]["matrix"])
    serial = next(iter(DataLoader(a, batch_size=4)))
    parallel = next(iter(DataLoader(a, batch_size=4, num_workers=2)))
    assert all(torch.equal(serial[k], parallel[k]) for k in serial)


def test_unreadable_image_names_the_file(records, tmp_path):
    broken = dataclasses.replace(records[0], image_path=tmp_path / "missing.jpg")
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        _dataset([broken])[0]
    with pytest.raises(ValueError, match="no faces"):
        _dataset([])


def test_three_copies_per_item_and_the_labelled_flag_of_each_record(records):
    config = AugmentConfig(views=3, r1=0.05, r2=0.05)
    hidden = [dataclasses.replace(r, labelled=i % 2 == 0) for i, r in enumerate(records[:4])]
    dataset = ViewDataset(
        records=hidden, steps=train_steps(config), size=config.size, seed=0, copies=train_copies(config)
    )
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch["image"].shape == (4, 3, 3, 128, 128) and batch["matrix"].shape == (4, 3, 3, 3)
    assert batch["labelled"].tolist() == [True, False, True, False]
    for target in (1, 2):  # every copy relates to the first exactly
        transform, index = relate_views(matrix=batch["matrix"], perm=batch["perm"], source=0, target=target)
        mapped = map_points(transform=transform, index=index, points=batch["landmarks"][:, 0].double())
        assert (mapped - batch["landmarks"][:, target].double()).abs().max() < 0.5
