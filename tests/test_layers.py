"""Imports go one way: the command line (elt_cli) and the review page (elt_review) on top, then the graph (flows),
the study's definition (elt_study), the stages (tasks), then {kit, landmark_core, gan_core}; gan_core may use
landmark_core. The use of trained models (elt_models) stands beside the graph and needs no Prefect. The cores never
import Prefect; the kit knows no stage; nothing imports the command line."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

from kit.code_version import PACKAGES, ROOT, module_facts

MAY_IMPORT = {  # project package -> the project packages it may import
    "landmark_core": {"landmark_core"},
    "gan_core": {"gan_core", "landmark_core"},
    "kit": {"kit", "landmark_core"},
    "tasks": {"tasks", "kit", "landmark_core", "gan_core"},
    "elt_study": {"elt_study", "tasks", "kit", "landmark_core", "gan_core"},
    "elt_models": {"elt_models", "kit", "landmark_core", "gan_core"},
    "flows": {"flows", "elt_study", "tasks", "kit", "landmark_core", "gan_core"},
    "elt_review": {"elt_review", "flows", "tasks", "kit", "landmark_core", "gan_core"},
    "elt_cli": set(PACKAGES),
}
NO_PREFECT = ("landmark_core", "gan_core", "elt_models")  # the cores, and the use of trained models


def _modules(package: str) -> list[str]:
    found = [package]
    for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
        found.append(info.name)
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_every_import_goes_one_way(package):
    wrong = []
    for name in _modules(package):
        facts = module_facts(name)
        assert facts is not None, name
        for imported in facts.imports + facts.type_only_imports:
            top = imported.split(".")[0]
            if top in PACKAGES and top not in MAY_IMPORT[package]:
                wrong.append(f"{name} imports {imported}")
            if package in NO_PREFECT and top == "prefect":
                wrong.append(f"{name} imports {imported} ({package} never imports Prefect)")
    assert not wrong, wrong


def test_the_packages_are_the_ones_the_code_version_covers():
    assert set(MAY_IMPORT) == set(PACKAGES)
    assert all((Path(ROOT) / p / "__init__.py").is_file() for p in PACKAGES)


def test_nothing_imports_the_command_line():
    importers = [
        f"{name} imports {imported}"
        for package in MAY_IMPORT
        if package != "elt_cli"
        for name in _modules(package)
        for imported in module_facts(name).imports + module_facts(name).type_only_imports
        if imported.split(".")[0] == "elt_cli"
    ]
    assert not importers
    assert all("elt_cli" not in allowed for package, allowed in MAY_IMPORT.items() if package != "elt_cli")
