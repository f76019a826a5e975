"""Code versions come from the import closure: edit what a stage imports and its key changes; edit anything
else and it does not. Run on a copy of the packages, so the checkout is never touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kit.code_version import PACKAGES, ROOT, code_version, import_closure, module_facts
from tasks.registry import all_stages

STAGES = all_stages()


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory) -> Path:
    """The project's packages copied (sources and data files) into a temporary root."""
    root = tmp_path_factory.mktemp("code-copy")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def _edit(root: Path, module: str) -> Path:
    path = root.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _versions(root: Path) -> dict[str, str]:
    return {name: code_version(stage.module, root=root) for name, stage in STAGES.items()}


def test_every_stage_of_the_graph_is_declared():
    assert set(STAGES) == {
        "synth_wflw",
        "download_wflw",
        "index_wflw",
        "subsets",
        "train_landmarks",
        "evaluate_landmarks",
        "align",
        "filter_faces",
        "segment_train",
        "segment",
        "paste",
        "project",
        "review",
        "attributes",
        "relight_styleflow",
        "edit_styleflow",
        "relight_physical",
        "report",
    }


@pytest.mark.parametrize("name", sorted(STAGES))
def test_editing_an_imported_module_changes_the_key_and_an_unrelated_one_does_not(copy_root, name):
    stage = STAGES[name]
    closure = import_closure(stage.module, root=copy_root)
    assert closure == stage.modules()
    imported = [m for m in closure if m.split(".")[0] in ("landmark_core", "gan_core") and m.count(".")]
    outside = sorted({m for s in STAGES.values() for m in s.modules()} - set(closure))
    before = code_version(stage.module, root=copy_root)
    for module in (imported[-1], stage.module):
        path = _edit(copy_root, module)
        original = path.read_bytes()
        path.write_bytes(original + b"\n# an edit\n")
        try:
            assert code_version(stage.module, root=copy_root) != before, f"{module} edit must re-key {name}"
        finally:
            path.write_bytes(original)
    path = _edit(copy_root, outside[0])
    original = path.read_bytes()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        assert code_version(stage.module, root=copy_root) == before, f"{outside[0]} is not imported by {name}"
    finally:
        path.write_bytes(original)
    assert code_version(stage.module, root=copy_root) == before


def test_an_edit_of_the_heatmap_decoder_re_keys_exactly_the_stages_that_import_it(copy_root):
    before = _versions(copy_root)
    path = _edit(copy_root, "landmark_core.heatmap")
    original = path.read_bytes()
    path.write_bytes(original.replace(b"def decode_argmax(", b"def decode_argmax(  # edited\n"))
    try:
        after = _versions(copy_root)
    finally:
        path.write_bytes(original)
    changed = {name for name in STAGES if before[name] != after[name]}
    assert changed == {name for name, s in STAGES.items() if "landmark_core.heatmap" in s.modules()}
    assert {"train_landmarks", "evaluate_landmarks", "report"} <= changed
    assert not changed & {"synth_wflw", "index_wflw", "align", "segment"}
    assert "project" in changed  # it can load the twin landmark model, whose encoder is the twin distance


def test_the_evaluation_covers_what_it_runs():
    modules = STAGES["evaluate_landmarks"].modules()
    for needed in ("landmark_core.heatmap", "landmark_core.train", "landmark_core.predict", "tasks.evaluate_landmarks"):
        assert needed in modules


def test_a_package_data_file_a_stage_reads_is_part_of_its_version(copy_root):
    before = _versions(copy_root)
    table = copy_root / "landmark_core" / "data" / "mean_face_3d_wflw98.csv"
    original = table.read_bytes()
    table.write_bytes(original + b"\n")
    try:
        after = _versions(copy_root)
    finally:
        table.write_bytes(original)
    assert before["subsets"] != after["subsets"] and before["index_wflw"] == after["index_wflw"]


def test_versions_do_not_depend_on_where_the_checkout_is(copy_root):
    assert _versions(copy_root) == {name: stage.code_version() for name, stage in STAGES.items()}


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    package = tmp_path / "tasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from . import b\n    return b\n")
    (package / "b.py").write_text("from .c import X\n")
    (package / "c.py").write_text("X = 1\n")
    (package / "d.py").write_text("Y = 2\n")
    assert import_closure("tasks.a", root=tmp_path) == ("tasks", "tasks.a", "tasks.b", "tasks.c")


def test_an_edit_of_the_beard_edit_stage_leaves_the_relighting_key_unchanged(copy_root):
    before = _versions(copy_root)
    path = _edit(copy_root, "tasks.edit_styleflow")
    original = path.read_bytes()
    path.write_bytes(original.replace(b'attribute: str = "beard"', b'attribute: str = "glasses"'))
    try:
        after = _versions(copy_root)
    finally:
        path.write_bytes(original)
    assert before["edit_styleflow"] != after["edit_styleflow"]
    assert before["relight_styleflow"] == after["relight_styleflow"]
    assert "tasks.edit_styleflow" not in STAGES["relight_styleflow"].modules()


def test_imports_under_type_checking_do_not_count_but_are_still_read(tmp_path):
    package = tmp_path / "tasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "import typing\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from tasks.b import B\n"
        "else:\n    from tasks.c import C\nif typing.TYPE_CHECKING:\n    import tasks.d\n"
    )
    for name in "bcd":
        (package / f"{name}.py").write_text(f"{name.upper()} = 1\n")
    assert import_closure("tasks.a", root=tmp_path) == ("tasks", "tasks.a", "tasks.c")
    facts = module_facts("tasks.a", root=tmp_path, packages=("tasks",))
    assert set(facts.type_only_imports) == {"tasks.b", "tasks.b.B", "tasks.d"}
    before = code_version("tasks.a", root=tmp_path)
    (package / "b.py").write_text("B = 2\n")
    assert code_version("tasks.a", root=tmp_path) == before
