"""The labelled split of a semi-supervised row: seeded by face, the same for every row, nested by fraction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landmark_core.dataset import FaceRecord
from landmark_core.labelled_split import labelled_mask, mark_unlabelled, usable

IDS = [f"face{i:04d}" for i in range(400)]


def test_the_same_seed_and_fraction_hide_the_same_faces_in_any_order():
    a = labelled_mask(face_ids=IDS, fraction=0.25, seed=3)
    assert a.sum() == 100
    order = np.random.default_rng(0).permutation(len(IDS))
    shuffled = labelled_mask(face_ids=[IDS[i] for i in order], fraction=0.25, seed=3)
    assert {IDS[i] for i, keep in zip(order, shuffled, strict=True) if keep} == {
        f for f, k in zip(IDS, a, strict=True) if k
    }
    assert np.array_equal(labelled_mask(face_ids=IDS, fraction=0.25, seed=3), a)  # and again, the same


def test_another_seed_hides_other_faces_and_smaller_fractions_are_nested():
    ten, quarter, half = (labelled_mask(face_ids=IDS, fraction=f, seed=0) for f in (0.10, 0.25, 0.50))
    assert (ten.sum(), quarter.sum(), half.sum()) == (40, 100, 200)
    assert not (ten & ~quarter).any() and not (quarter & ~half).any()  # 10 % within 25 % within 50 %
    other = labelled_mask(face_ids=IDS, fraction=0.25, seed=1)
    assert 10 < (other & quarter).sum() < 60  # about a quarter of a quarter, by chance: a different split
    assert labelled_mask(face_ids=IDS, fraction=1.0, seed=0).all()
    assert labelled_mask(face_ids=IDS[:3], fraction=0.01, seed=0).sum() == 1  # at least one labelled face


def test_bad_fractions_and_repeated_ids_are_refused():
    with pytest.raises(ValueError, match=r"labelled fraction must be in \(0, 1\]"):
        labelled_mask(face_ids=IDS, fraction=0.0, seed=0)
    with pytest.raises(ValueError, match="unique"):
        labelled_mask(face_ids=["a", "a"], fraction=0.5, seed=0)


def test_mark_unlabelled_flags_records_and_keeps_them_in_order():
    records = [FaceRecord(face_id=f, image_path=Path(f), box=(0, 0, 1, 1), landmarks=np.zeros((98, 2))) for f in IDS]
    marked = mark_unlabelled(records=records, fraction=0.5, seed=0)
    assert [r.face_id for r in marked] == IDS
    assert [r.labelled for r in marked] == labelled_mask(face_ids=IDS, fraction=0.5, seed=0).tolist()
    assert mark_unlabelled(records=records, fraction=1.0, seed=0) is records


def test_usable_leaves_unlabelled_faces_out_or_repeats_the_labelled_to_the_same_number_of_steps():
    records = [FaceRecord(face_id=f, image_path=Path(f), box=(0, 0, 1, 1), landmarks=np.zeros((98, 2))) for f in IDS]
    marked = mark_unlabelled(records=records[:10], fraction=0.3, seed=0)
    labelled = [r.face_id for r in marked if r.labelled]
    assert usable(marked, keep_unlabelled=True) == marked
    assert [r.face_id for r in usable(marked, keep_unlabelled=False)] == labelled
    repeated = [r.face_id for r in usable(marked, keep_unlabelled=False, repeat=True)]
    assert len(repeated) == 10 and repeated == (labelled * 4)[:10]  # cycled, as many items as every face
    assert usable(marked, keep_unlabelled=True, repeat=True) == marked  # nothing to repeat for
