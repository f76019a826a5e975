"""Train and evaluate stages: cached by key, resumable after a crash, recomputed only when their inputs change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from kit.stage import Runtime
from kit.store import Store
from landmark_core.sampler import AugmentConfig
from landmark_core.subsets import SUBSETS
from landmark_core.synth.dataset import SynthConfig
from landmark_core.train import BEST, LAST
from landmark_core.train_config import LossConfig, TrainConfig
from tasks.evaluate_landmarks import EvaluateConfig, evaluate_landmarks
from tasks.train_landmarks import train_landmarks
from tests.kit.toy_stages import InvertConfig, inverted_faces
from tests.tiny import TINY_MODEL

TINY = TrainConfig(
    model=TINY_MODEL,
    augment=AugmentConfig(size=32, r1=0.0, r2=0.05),
    loss=LossConfig(elt_lambda=0.25),
    batch_size=4,
    max_epochs=2,
    val_fraction=0.2,
)


CPU = Runtime(device="cpu")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, publish_twin):
    twin = publish_twin(Store(tmp_path_factory.mktemp("store")), SynthConfig(train=8, test=6, seed=3))
    return twin.store, twin.dataset, twin.index, twin.subsets


def _train(upstream, config=TINY, runtime=CPU, **inputs):
    store, dataset, index, _ = upstream
    return train_landmarks.run(store=store, config=config, runtime=runtime, dataset=dataset, index=index, **inputs)


def _evaluate(upstream, trained):
    store, dataset, index, subsets = upstream
    return evaluate_landmarks.run(
        store=store,
        config=EvaluateConfig(),
        runtime=CPU,
        dataset=dataset,
        index=index,
        subsets=subsets,
        trained=trained,
    )


def test_train_then_evaluate_publish_runs_and_per_face_errors_and_hit_the_cache(upstream):
    store, dataset, index, subsets = upstream
    trained, computed = _train(upstream)
    assert computed and list(trained.manifest()["epoch"]) == [0, 1]
    run = trained.local_dir()
    assert (run / BEST).is_file() and (run / LAST).is_file() and (run / "history.jsonl").is_file()
    assert trained.metadata()["info"]["epochs"] == 2
    assert not (Path(store.root) / ".scratch" / train_landmarks.name / trained.key).exists()
    assert "seconds" not in trained.manifest() and len(trained.metadata()["info"]["timing"]) == 2  # not content
    evaluated, computed = _evaluate(upstream, trained)
    per_face = evaluated.manifest()
    assert computed and len(per_face) == (index.manifest()["split"] == "test").sum()
    assert {"face_id", "nme", "in_frontal_illumination"} <= set(per_face.columns)
    table = pd.read_csv(Path(evaluated.local_dir()) / "metrics.csv", index_col="subset")
    assert list(table.index) == list(SUBSETS)
    again, computed_train = _train(upstream)
    _, computed_eval = _evaluate(upstream, again)
    assert (computed_train, computed_eval, again.key) == (False, False, trained.key)


def test_a_changed_lambda_trains_a_new_row_and_leaves_the_first(upstream):
    first, _ = _train(upstream)
    other, computed = _train(upstream, config=dataclasses.replace(TINY, loss=LossConfig(elt_lambda=0.5)))
    assert computed and other.key != first.key
    assert _train(upstream)[1] is False  # the first row is still cached


def test_a_crashed_training_resumes_from_its_last_epoch(upstream, tmp_path):
    config = dataclasses.replace(TINY, seed=11)

    def crash_in_the_second_epoch(fraction: float) -> None:
        if fraction > 0.5:  # epoch 0 of 2 is finished and checkpointed
            raise KeyboardInterrupt("worker lost")

    store = Store(tmp_path)
    inputs = {"dataset": upstream[1], "index": upstream[2]}
    with pytest.raises(KeyboardInterrupt):
        train_landmarks.run(
            store=store, config=config, runtime=Runtime(device="cpu", progress=crash_in_the_second_epoch), **inputs
        )
    assert not list((Path(store.root) / train_landmarks.name).glob("[!.]*"))  # nothing published
    resumed_reports, straight_reports = [], []
    resumed, computed = train_landmarks.run(
        store=store, config=config, runtime=Runtime(device="cpu", progress=resumed_reports.append), **inputs
    )
    straight, _ = train_landmarks.run(
        store=Store(tmp_path / "other"),
        config=config,
        runtime=Runtime(device="cpu", progress=straight_reports.append),
        **inputs,
    )
    assert computed and 2 * len(resumed_reports) == len(straight_reports)  # only the missing epoch ran
    pd.testing.assert_frame_equal(resumed.manifest(), straight.manifest())
    assert resumed.key == straight.key  # two stores, one key: the manifest holds content only


def _augmented_output(store, dataset, index, face_ids, *, with_source=True):
    config = InvertConfig(faces=tuple(face_ids), with_source=with_source)
    return inverted_faces.run(store=store, config=config, dataset=dataset, index=index)[0]


def test_an_augmented_set_joins_training_except_copies_of_validation_faces(upstream):
    from landmark_core.dataset import face_records
    from landmark_core.train import split_validation

    store, dataset, index, _ = upstream
    train_faces = index.manifest().query("split == 'train'")
    records = face_records(root=dataset.local_dir() / "wflw", faces=train_faces)
    _, val = split_validation(records=records, fraction=TINY.val_fraction, seed=TINY.seed)
    val_ids = {r.face_id for r in val}
    picked = [*sorted(set(train_faces["face_id"]) - val_ids)[:3], sorted(val_ids)[0]]
    augmented = _augmented_output(store, dataset, index, picked)
    config = dataclasses.replace(TINY, max_epochs=1)
    plain, _ = _train(upstream, config=config)
    relit, computed = _train(upstream, config=config, augmented=augmented)
    assert computed and relit.key != plain.key  # the augmented set is an input of the key
    info, base = relit.metadata()["info"], plain.metadata()["info"]
    assert info["augmented_faces"] == 3  # the copy of a validation face is left out
    assert info["train_faces"] == base["train_faces"] + 3 and info["val_faces"] == base["val_faces"]
    assert relit.metadata()["inputs"]["augmented"]["key"] == augmented.key
    bad = _augmented_output(store, dataset, index, picked[:1], with_source=False)
    with pytest.raises(ValueError, match="source_face_id"):
        _train(upstream, config=config, augmented=bad)


def test_a_semi_supervised_row_hides_labels_by_seed_and_a_row_without_elt_trains_on_the_labelled_alone(upstream):
    from landmark_core.dataset import face_records
    from landmark_core.labelled_split import labelled_mask
    from landmark_core.train import split_validation
    from tasks.train_landmarks import training_faces

    store, dataset, index, _ = upstream
    records = face_records(root=dataset.local_dir() / "wflw", faces=index.manifest().query("split == 'train'"))
    part, val = split_validation(records=records, fraction=TINY.val_fraction, seed=TINY.seed)
    semi = dataclasses.replace(TINY, labelled_fraction=0.5)
    kept, extra = training_faces(config=semi, train_part=part, val=val, augmented=None)
    expected = labelled_mask(face_ids=[r.face_id for r in part], fraction=0.5, seed=TINY.seed)
    assert [r.labelled for r in kept] == expected.tolist() and not extra  # all faces, half of them unlabelled
    supervised = dataclasses.replace(semi, loss=LossConfig(elt_lambda=0.0))
    alone, _ = training_faces(config=supervised, train_part=part, val=val, augmented=None)
    assert [r.face_id for r in alone] == [r.face_id for r, k in zip(part, expected, strict=True) if k]
    # A relit copy of a hidden face is hidden too; with augmented_labelled = false every relit face is.
    hidden = sorted(r.face_id for r in kept if not r.labelled)
    shown = sorted(r.face_id for r in kept if r.labelled)
    augmented = _augmented_output(store, dataset, index, [hidden[0], shown[0]])
    _, relit = training_faces(config=semi, train_part=part, val=val, augmented=augmented)
    assert [r.labelled for r in relit] == [False, True]
    unlabelled = dataclasses.replace(TINY, augmented_labelled=False)
    every, relit = training_faces(config=unlabelled, train_part=part, val=val, augmented=augmented)
    assert [r.labelled for r in relit] == [False, False] and all(r.labelled for r in every[: -len(relit)])
    trained, _ = _train(upstream, config=dataclasses.replace(semi, max_epochs=1))
    info = trained.metadata()["info"]
    assert info["unlabelled_faces"] == int((~expected).sum()) and info["val_faces"] == len(val)
