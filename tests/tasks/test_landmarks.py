"""Train and evaluate stages: cached by key, resumable after a crash, recomputed only when their inputs change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from tasks.data import index_stage, subsets_stage, synth_stage
from tasks.landmarks import TRAIN, evaluate_stage, train_stage

from landmark_core.sampler import AugmentConfig
from landmark_core.subsets import SUBSETS, SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from landmark_core.train import BEST, LAST
from landmark_core.train_config import LossConfig, TrainConfig
from tasks.stage import Store
from tests.tiny import TINY_MODEL

TINY = TrainConfig(
    model=TINY_MODEL,
    augment=AugmentConfig(size=32, r1=0.0, r2=0.05),
    loss=LossConfig(elt_lambda=0.25),
    batch_size=4,
    max_epochs=2,
    val_fraction=0.2,
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("store"))
    dataset, _ = synth_stage(store=store, config=SynthConfig(train=8, test=6, seed=3))
    index, _ = index_stage(store=store, dataset=dataset)
    subsets, _ = subsets_stage(store=store, index=index, config=SubsetConfig())
    return store, dataset, index, subsets


def _train(upstream, config=TINY, **kwargs):
    store, dataset, index, _ = upstream
    return train_stage(store=store, dataset=dataset, index=index, config=config, device="cpu", **kwargs)


def test_train_then_evaluate_publish_runs_and_per_face_errors_and_hit_the_cache(upstream):
    store, dataset, index, subsets = upstream
    trained, computed = _train(upstream)
    assert computed and list(trained.manifest()["epoch"]) == [0, 1]
    run = trained.local_dir()
    assert (run / BEST).is_file() and (run / LAST).is_file() and (run / "history.jsonl").is_file()
    assert trained.metadata()["info"]["epochs"] == 2
    assert not (Path(store.root) / ".scratch" / TRAIN.name / trained.key).exists()
    evaluated, computed = evaluate_stage(
        store=store, dataset=dataset, index=index, subsets=subsets, trained=trained, device="cpu"
    )
    per_face = evaluated.manifest()
    assert computed and len(per_face) == (index.manifest()["split"] == "test").sum()
    assert {"face_id", "nme", "in_frontal_illumination"} <= set(per_face.columns)
    table = pd.read_csv(Path(evaluated.local_dir()) / "metrics.csv", index_col="subset")
    assert list(table.index) == list(SUBSETS)
    again, computed_train = _train(upstream)
    _, computed_eval = evaluate_stage(
        store=store, dataset=dataset, index=index, subsets=subsets, trained=again, device="cpu"
    )
    assert (computed_train, computed_eval, again.key) == (False, False, trained.key)


def test_a_changed_lambda_trains_a_new_row_and_leaves_the_first(upstream):
    first, _ = _train(upstream)
    other, computed = _train(upstream, config=dataclasses.replace(TINY, loss=LossConfig(elt_lambda=0.5)))
    assert computed and other.key != first.key
    assert _train(upstream)[1] is False  # the first row is still cached


def test_a_crashed_training_resumes_from_its_last_epoch(upstream, tmp_path):
    store = Store(tmp_path)
    _, dataset, index, _ = upstream
    config = dataclasses.replace(TINY, seed=11)

    def crash_after_first_epoch(record):
        if record.epoch == 0:
            raise KeyboardInterrupt("worker lost")

    with pytest.raises(KeyboardInterrupt):
        train_stage(
            store=store, dataset=dataset, index=index, config=config, device="cpu", on_epoch=crash_after_first_epoch
        )
    assert not list((Path(store.root) / TRAIN.name).glob("[!.]*"))  # nothing published
    seen = []
    resumed, computed = train_stage(
        store=store, dataset=dataset, index=index, config=config, device="cpu", on_epoch=lambda r: seen.append(r.epoch)
    )
    assert computed and seen == [1]  # only the missing epoch ran
    straight, _ = train_stage(
        store=Store(tmp_path / "other"), dataset=dataset, index=index, config=config, device="cpu"
    )
    pd.testing.assert_frame_equal(
        resumed.manifest().drop(columns=["seconds", "images_per_second"]),
        straight.manifest().drop(columns=["seconds", "images_per_second"]),
    )


def _augmented_output(store, dataset, index, face_ids, *, with_source=True):
    """A stand-in for the GAN branch's output: inverted copies of some training faces, same annotations."""
    import cv2
    from tasks.data import DATASET_DIR

    from tasks.stage import StageResult, StageSpec, run_stage

    faces = index.manifest().set_index("face_id").loc[face_ids].reset_index()

    def compute(work: Path) -> StageResult:
        (work / "relit").mkdir()
        paths = []
        for i, path in enumerate(faces["image_path"]):
            image = cv2.imread(str(dataset.local_dir() / DATASET_DIR / path))
            cv2.imwrite(str(work / "relit" / f"{i}.png"), 255 - image)
            paths.append(f"relit/{i}.png")
        manifest = faces.assign(image_path=paths, face_id=[f"relit-{f}" for f in faces["face_id"]])
        if with_source:
            manifest["source_face_id"] = faces["face_id"]
        return StageResult(manifest=manifest)

    spec = StageSpec(name="augmented_toy", version=1, modules=("tasks.stage",))
    return run_stage(
        store=store, spec=spec, params={"faces": list(face_ids), "source": with_source}, inputs={}, compute=compute
    )[0]


def test_an_augmented_set_joins_training_except_copies_of_validation_faces(upstream):
    from tasks.data import DATASET_DIR

    from landmark_core.dataset import face_records
    from landmark_core.train import split_validation

    store, dataset, index, _ = upstream
    train_faces = index.manifest().query("split == 'train'")
    records = face_records(root=dataset.local_dir() / DATASET_DIR, faces=train_faces)
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
