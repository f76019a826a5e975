"""Imports go one way: flows -> tasks -> {kit, landmark_core, gan_core}; gan_core may use landmark_core; the cores
never import Prefect; the kit knows no stage (it never imports tasks or flows)."""

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
    "flows": set(PACKAGES),
}


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
        for imported in facts.imports:
            top = imported.split(".")[0]
            if top in PACKAGES and top not in MAY_IMPORT[package]:
                wrong.append(f"{name} imports {imported}")
            if package in ("landmark_core", "gan_core") and top == "prefect":
                wrong.append(f"{name} imports {imported} (the cores never import Prefect)")
    assert not wrong, wrong


def test_the_packages_are_the_ones_the_code_version_covers():
    assert set(MAY_IMPORT) == set(PACKAGES)
    assert all((Path(ROOT) / p / "__init__.py").is_file() for p in PACKAGES)
