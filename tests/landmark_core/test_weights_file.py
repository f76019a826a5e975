"""No weights file can run code, and every broken one is one error naming the file."""

from __future__ import annotations

import pytest
import torch

from landmark_core.train import load_checkpoint
from landmark_core.weights_file import WeightsFileError, load_weights_file


def test_a_file_that_would_run_code_is_refused_and_the_code_never_runs(hostile_torch_file):
    path, marker = hostile_torch_file()
    with pytest.raises(WeightsFileError, match=rf"{path}: refused as a checkpoint: .*could run code"):
        load_weights_file(path, what="checkpoint")
    assert not marker.exists()


def test_a_plain_weights_file_loads(tmp_path):
    torch.save({"w": torch.ones(2), "config": {"a": 1}, "history": [{"epoch": 0}]}, tmp_path / "ok.pt")
    loaded = load_weights_file(tmp_path / "ok.pt", what="checkpoint")
    assert torch.equal(loaded["w"], torch.ones(2)) and loaded["history"] == [{"epoch": 0}]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"<!doctype html><html>sign in</html>", "not a torch file"),
        (None, "not a readable checkpoint"),  # a real file cut in half
    ],
)
def test_broken_files_are_one_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "broken.pt"
    if content is None:
        torch.save({"w": torch.randn(1000)}, path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match=reason) as caught:
        load_weights_file(path, what="checkpoint")
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_weights_file(tmp_path / "none.pt", what="checkpoint")


def test_load_checkpoint_refuses_a_hostile_checkpoint(hostile_torch_file):
    path, marker = hostile_torch_file(content={"model": {}, "config": {}})
    with pytest.raises(WeightsFileError):
        load_checkpoint(path)
    assert not marker.exists()
