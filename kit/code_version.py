"""Code versions from the import closure: what a stage's output depends on, read from the source itself.

The code version of a stage is the digest of the source of every module of this project that the stage's
module imports, directly or through other project modules (imports inside functions included), plus the
package data files those modules name. Imports are read statically (``ast``), so nothing is executed and no
list of modules is written by hand: an edit of any module a stage can reach re-keys that stage, an edit of
any other module does not.

A package data file counts when its file name, or its path inside its package, appears as a string constant
in a module of the closure (the way this project reads its tables:
``resources.files("landmark_core").joinpath("data/mean_face_3d_wflw98.csv")``).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGES = ("landmark_core", "gan_core", "kit", "tasks", "flows", "elt_study", "elt_review", "elt_models", "elt_cli")
ROOT = Path(__file__).resolve().parent.parent  # the folder holding the project's packages


@dataclass(frozen=True)
class ModuleFacts:
    """What one source file says about its dependencies: imported names and string constants.

    ``imports`` are the imports that run; ``type_only_imports`` those under ``if TYPE_CHECKING:``, which never run
    and so never enter a code version (an annotation cannot change an output), but still obey the layers.
    """

    imports: tuple[str, ...]
    strings: frozenset[str]
    type_only_imports: tuple[str, ...] = ()


def module_file(name: str, *, root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> Path | None:
    """The source file of module ``name`` of ``packages`` under ``root`` (None when it is not one of theirs)."""
    if name.split(".")[0] not in packages:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST, package: str) -> list[str]:
    """The dotted names one import statement brings in (none for any other node)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, package)
        return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return []


@cache
def _facts(path: Path, mtime_ns: int, size: int, name: str) -> ModuleFacts:
    """Parse one file (cached on its path, mtime and size); imports under ``if TYPE_CHECKING:`` are kept apart."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = _package_of(name, path)
    imports: list[str] = []
    type_only: list[str] = []
    strings: set[str] = set()
    todo: list[tuple[ast.AST, bool]] = [(tree, False)]
    while todo:
        node, typing_only = todo.pop()
        (type_only if typing_only else imports).extend(_imported(node, package))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200 and not typing_only:
            strings.add(node.value)
        if _is_type_checking(node):
            todo += [(child, True) for child in node.body] + [(child, typing_only) for child in node.orelse]
            todo.append((node.test, typing_only))
        else:
            todo += [(child, typing_only) for child in ast.iter_child_nodes(node)]
    return ModuleFacts(imports=tuple(imports), strings=frozenset(strings), type_only_imports=tuple(type_only))


def _absolute(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{module}" if module else base


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a module runs its packages' ``__init__`` too."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_facts(name: str, *, root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> ModuleFacts | None:
    """The parsed facts of module ``name`` of ``packages`` (None when it is not one of theirs)."""
    path = module_file(name, root=root, packages=packages)
    if path is None:
        return None
    stat = path.stat()
    return _facts(path, stat.st_mtime_ns, stat.st_size, name)


def import_closure(module: str, *, root: Path = ROOT) -> tuple[str, ...]:
    """Every project module ``module`` imports, transitively, itself included; sorted.

    Args:
        module: a dotted project module name, e.g. ``tasks.evaluate_landmarks``.
        root: the folder holding the project's packages (a copy of it in tests).

    Returns:
        Dotted module names (packages by their ``__init__``): this project's, and those of the package that
        defines ``module`` (a stage declared in the tests, say).
    """
    packages = tuple(dict.fromkeys((*PACKAGES, module.split(".")[0])))
    seen: set[str] = set()
    todo = _with_parents(module)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        facts = module_facts(name, root=root, packages=packages)
        if facts is None:
            continue
        seen.add(name)
        for imported in facts.imports:
            todo += [n for n in _with_parents(imported) if n not in seen]
    return tuple(sorted(seen))


def data_files(modules: tuple[str, ...], *, root: Path = ROOT) -> tuple[Path, ...]:
    """Package data files (not Python) of the packages in ``modules`` whose file name a module of it names."""
    strings: set[str] = set()
    packages = tuple({m.split(".")[0] for m in modules})
    for name in modules:
        facts = module_facts(name, root=root, packages=packages)
        strings |= facts.strings if facts else set()
    found = set()
    for package in {m.split(".")[0] for m in modules}:
        for path in (root / package).rglob("*"):
            named = {path.name, path.relative_to(root / package).as_posix()}
            if path.is_file() and path.suffix not in (".py", ".pyc") and named & strings:
                found.add(path)
    return tuple(sorted(found))


def code_version(module: str, *, root: Path = ROOT) -> str:
    """Digest (16 hex) of the source of ``module``'s import closure and the data files it names.

    Args:
        module: the dotted name of the module that defines a stage.
        root: the folder holding the project's packages.

    Returns:
        16 hex digits; equal for equal sources, whatever the machine or the checkout's location.
    """
    digest = hashlib.sha256()
    modules = import_closure(module, root=root)
    packages = tuple({m.split(".")[0] for m in modules})
    files = [module_file(m, root=root, packages=packages) for m in modules] + list(data_files(modules, root=root))
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\n")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
