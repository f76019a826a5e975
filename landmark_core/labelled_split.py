"""Which training faces keep their landmarks in a semi-supervised row: a seeded split by face.

A face's rank is a hash of (seed, face id), so the split depends on the faces and the seed alone (not on their
order or on the row), and the labelled faces of a smaller fraction are among those of a larger one: every row
with the same fraction and seed hides the same faces, and 10 % labels is a subset of 25 %.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from landmark_core.dataset import FaceRecord


def face_rank(*, face_id: str, seed: int) -> int:
    """A stable pseudo-random rank of one face for ``seed`` (the first 8 bytes of a BLAKE2b digest)."""
    digest = hashlib.blake2b(f"{seed}:{face_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def labelled_mask(*, face_ids: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """Which faces are labelled: the ``round(fraction * n)`` lowest ranks (at least one face).

    Args:
        face_ids: the training faces' ids (unique).
        fraction: the labelled share, in (0, 1].
        seed: the run's seed.

    Returns:
        (n,) bool, True for a labelled face.

    Raises:
        ValueError: a fraction outside (0, 1] or repeated face ids.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"labelled fraction must be in (0, 1], got {fraction}")
    if len(set(face_ids)) != len(face_ids):
        raise ValueError("face ids must be unique to split them")
    ranks = np.array([face_rank(face_id=str(f), seed=seed) for f in face_ids], dtype=np.uint64)
    keep = max(1, round(fraction * len(face_ids))) if len(face_ids) else 0
    mask = np.zeros(len(face_ids), dtype=bool)
    mask[np.argsort(ranks, kind="stable")[:keep]] = True
    return mask


def mark_unlabelled(*, records: list[FaceRecord], fraction: float, seed: int) -> list[FaceRecord]:
    """``records`` with the faces outside the labelled split marked ``labelled=False`` (1.0 changes nothing)."""
    if fraction >= 1:
        return records
    mask = labelled_mask(face_ids=[r.face_id for r in records], fraction=fraction, seed=seed)
    return [r if keep else replace(r, labelled=False) for r, keep in zip(records, mask, strict=True)]


def usable(records: list[FaceRecord], *, keep_unlabelled: bool, repeat: bool = False) -> list[FaceRecord]:
    """The faces a run can learn from: every labelled face, and the unlabelled ones only when a loss term reaches
    them (``keep_unlabelled``: the ELT term over two or more copies); the order is kept.

    With ``repeat`` and unlabelled faces left out, the labelled faces are cycled through until the list is as long
    as ``records``: an epoch then takes as many optimizer steps as one over every face (each repeat is a dataset
    item of its own, so it draws its own augmentation).
    """
    kept = [r for r in records if r.labelled or keep_unlabelled]
    if not repeat or keep_unlabelled or not kept:
        return kept
    return [kept[i % len(kept)] for i in range(len(records))]
