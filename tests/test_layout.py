"""The shape of the code: public exports, module and function sizes, package sizes, and
the ``e2e`` marker on every test that starts a process."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PUBLIC_PACKAGES = (
    "claims",
    "claims.intake",
    "claims.validate",
    "claims.pay",
    "claims.decide",
    "claims.settle",
    "claims.store",
    "claims.pipeline",
    "claims.synthetic",
    "rules",
    "catalogs",
)
"""Packages whose ``__init__`` is their public API (``__all__``)."""
SOURCE_ROOTS = ("claims", "rules", "catalogs", "api")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
MAX_PACKAGE_MODULES = 20


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_every_exported_name_is_importable_once(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name}/__init__.py declares no __all__"
    assert exported, f"{name}.__all__ is empty"
    assert all(isinstance(n, str) for n in exported)
    duplicates = sorted({n for n in exported if exported.count(n) > 1})
    assert not duplicates, f"{name}.__all__ lists {duplicates} more than once"
    missing = [n for n in exported if not hasattr(package, n)]
    assert not missing, f"{name}.__all__ names {missing}, which it does not define"
    # ``from package import *`` binds exactly the exported names
    scope: dict[str, object] = {}
    exec(f"from {name} import *", scope)
    assert set(scope) - {"__builtins__"} == set(exported)


def _sources() -> Iterator[Path]:
    for root in SOURCE_ROOTS:
        yield from sorted((ROOT / root).rglob("*.py"))


def _only_data(tree: ast.Module) -> bool:
    """A module of declarations only: imports, constants and their docstrings."""
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.Expr)
    return all(isinstance(node, allowed) for node in tree.body)


def test_no_module_is_over_600_lines() -> None:
    found = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES and not _only_data(ast.parse(text)):
            found.append(f"{path.relative_to(ROOT)}: {lines}")
    assert list(_sources()), "no source found"
    assert not found, f"modules over {MAX_MODULE_LINES} lines: {found}"


def test_no_function_is_over_80_lines() -> None:
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(ROOT)}:{node.name}: {lines}")
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines: {found}"


def test_no_package_folder_holds_more_than_20_modules() -> None:
    folders = {
        p.parent for root in SOURCE_ROOTS for p in (ROOT / root).rglob("__init__.py")
    }
    assert ROOT / "claims" / "pay" in folders
    crowded = {
        str(f.relative_to(ROOT)): n
        for f in sorted(folders)
        if (n := len(list(f.glob("*.py")))) > MAX_PACKAGE_MODULES
    }
    assert not crowded, f"package folders over {MAX_PACKAGE_MODULES} modules: {crowded}"


# ---- the e2e marker


def _is_e2e_mark(node: ast.expr) -> bool:
    """``pytest.mark.e2e`` (called or not)."""
    if isinstance(node, ast.Call):
        node = node.func
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "e2e"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
    )


def _module_marked(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            values = (
                node.value.elts
                if isinstance(node.value, ast.List | ast.Tuple)
                else [node.value]
            )
            return any(_is_e2e_mark(v) for v in values)
    return False


def _names_used(node: ast.AST) -> set[str]:
    """Names called or referenced in ``node``; ``subprocess.x`` counts as
    ``subprocess``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _starters(tree: ast.Module, known: set[str]) -> set[str]:
    """Module-level functions that start a process, directly or through each other."""
    functions = {
        n.name: _names_used(n) for n in tree.body if isinstance(n, ast.FunctionDef)
    }
    found = set(known) | {"subprocess"}
    grew = True
    while grew:
        more = {name for name, used in functions.items() if used & found}
        grew = not more <= found
        found |= more
    return found


def _tests(tree: ast.Module) -> Iterator[ast.FunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from (
                n
                for n in node.body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
            )


def test_every_test_that_starts_a_process_is_marked_e2e() -> None:
    factories = ast.parse((ROOT / "tests" / "factories.py").read_text("utf-8"))
    shared = _starters(factories, set()) - {"subprocess"}
    assert "giamdinh" in shared
    unmarked, marked = [], 0
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        starters = _starters(tree, shared)
        whole = _module_marked(tree)
        for test in _tests(tree):
            if not _names_used(test) & starters:
                continue
            if whole or any(_is_e2e_mark(d) for d in test.decorator_list):
                marked += 1
            else:
                unmarked.append(f"{path.relative_to(ROOT)}::{test.name}")
    assert marked > 10  # the check sees the command-line tests
    assert not unmarked, (
        f"tests starting a process without @pytest.mark.e2e: {unmarked}"
    )


def test_every_kind_of_id_is_made_by_content_id() -> None:
    """Ids come from ``claims.ids.content_id`` with the parts of ``ID_PARTS``: no
    kind of id is hashed its own way."""
    from claims.ids import ID_PARTS

    made: dict[str, list[str]] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            kind = node.args[0]
            if name == "content_id" and isinstance(kind, ast.Constant):
                made.setdefault(str(kind.value), []).append(str(path.relative_to(ROOT)))
    assert "run" in made
    missing = sorted(set(ID_PARTS) - set(made))
    assert not missing, f"ids of kind {missing} are not made by content_id"
