"""``eltrepro train`` and ``eltrepro evaluate`` end to end on the small synthetic twin."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from elt_cli.main import app
from landmark_core.subsets import SUBSETS
from tests.tiny import tiny_model_toml

runner = CliRunner()

TINY = (
    """
seed = 1
batch_size = 4
val_fraction = 0.2
"""
    + tiny_model_toml("model")
    + """[augment]
size = 32
r1 = 0.0
r2 = 0.05
[loss]
elt_lambda = {lam}
"""
)


@pytest.fixture(scope="module")
def runs(synth_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, lam in (("baseline", 0.0), ("elt", 0.25)):
        cfg = root / f"{name}.toml"
        cfg.write_text(TINY.format(lam=lam))
        args = [
            "train",
            "--data",
            str(synth_root),
            "--out",
            str(root / name),
            "--config",
            str(cfg),
            "--epochs",
            "2",
            "--device",
            "cpu",
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "epoch    1" in result.output and "best val NME" in result.output
    return root


def test_train_writes_a_metrics_log_per_epoch_and_checkpoints(runs):
    for name, lam in (("baseline", 0.0), ("elt", 0.25)):
        lines = [json.loads(x) for x in (runs / name / "history.jsonl").read_text().splitlines()]
        assert [x["epoch"] for x in lines] == [0, 1]
        assert (lines[-1]["loss_elt"] > 0) == (lam > 0)
        assert json.loads((runs / name / "config.json").read_text())["loss"]["elt_lambda"] == lam
        assert (runs / name / "best.pt").is_file() and (runs / name / "last.pt").is_file()


def test_evaluate_writes_per_face_errors_and_every_subset(runs, synth_root, tmp_path):
    ckpt = str(runs / "elt" / "best.pt")
    args = ["evaluate", "--checkpoint", ckpt, "--data", str(synth_root), "--out", str(tmp_path), "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    per_face = pd.read_parquet(tmp_path / "per_face.parquet")
    assert len(per_face) > 0 and per_face["nme"].gt(0).all() and len(per_face["pred"].iloc[0]) == 196
    table = pd.read_csv(tmp_path / "metrics.csv", index_col="subset")
    assert list(table.index) == list(SUBSETS)
    assert list(table.columns) == ["faces", "nme", "nme90", "nme95", "nme99", "fr10", "auc10"]
    assert table.loc["full", "faces"] == len(per_face)
    assert table.loc["full", "nme"] == pytest.approx(100 * per_face["nme"].mean(), abs=1e-3)
    assert "| frontal_illumination |" in (tmp_path / "metrics.md").read_text()


def test_train_hides_the_labels_of_a_semi_supervised_config_as_the_stage_does(synth_root, tmp_path):
    from landmark_core.dataset import face_records
    from landmark_core.labelled_split import labelled_mask
    from landmark_core.train import split_validation
    from landmark_core.wflw_index import index_wflw

    lines = {}
    for lam in (0.25, 0.0):  # with the ELT term the unlabelled faces train; without it they are left out
        cfg = tmp_path / f"semi{lam}.toml"
        cfg.write_text("labelled_fraction = 0.5\n" + TINY.format(lam=lam))
        args = ["train", "--data", str(synth_root), "--out", str(tmp_path / f"run{lam}"), "--config", str(cfg)]
        result = runner.invoke(app, [*args, "--epochs", "1", "--device", "cpu"])
        assert result.exit_code == 0, result.output
        lines[lam] = next(x for x in result.output.splitlines() if x.startswith("training on"))
    faces = index_wflw(root=synth_root).faces
    part, _ = split_validation(
        records=face_records(root=synth_root, faces=faces[faces["split"] == "train"]), fraction=0.2, seed=1
    )
    hidden = int((~labelled_mask(face_ids=[r.face_id for r in part], fraction=0.5, seed=1)).sum())
    assert lines[0.25].startswith(f"training on {len(part)} faces ({hidden} unlabelled)")
    assert lines[0.0].startswith(f"training on {len(part) - hidden} faces (0 unlabelled)")
