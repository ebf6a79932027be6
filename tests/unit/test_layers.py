"""Layers point down only: an AST walk over every import in netlab (module level, function level and
``TYPE_CHECKING`` blocks alike), failing on a cycle, a private name imported across packages, a pure stage
that reaches the kernel, or a stage, CLI or VM module that names a feature.

Why every import counts, also the function-local ones: the eight cycles netlab once had were all held
together by imports moved into functions; they worked until someone moved one back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "netlab"
FACADE = "netlab"  # netlab/__init__.py imports lazily (by name, on first attribute access): not an edge
FEATURE_INTERFACE = {"netlab.features", "netlab.features.base", "netlab.features.manifest", "netlab.features.registry"}


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str) -> Iterator[tuple[str, str, bool]]:
    """(imported module, imported name or "", under TYPE_CHECKING) for every netlab import in ``module``."""
    tree = ast.parse(modules()[module].read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("netlab"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate in modules():
                    yield candidate, "", id(node) in typing_only
                else:
                    yield str(node.module), alias.name, id(node) in typing_only
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("netlab"):
                    yield alias.name, "", id(node) in typing_only


@cache
def graph() -> dict[str, set[str]]:
    return {m: {target for target, _name, _t in _imports(m) if target in modules() and target != m}
            for m in modules() if m != FACADE}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges = {m: {t for t in targets if t != FACADE} for m, targets in graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _reach(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph().get(todo.pop(), ()):
            if target not in seen and target != FACADE:
                seen.add(target)
                todo.append(target)
    return seen


def _package(module: str) -> str:
    path = modules()[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


KERNEL_SIDE = {"kernel", "runner", "server", "status", "cli", "session", "submissions"}


def _is_pure(module: str) -> bool:
    """Modules that must run without root and without the kernel: core, model, the pure stages, and every
    feature file except its kernel side (kernel, runner, server, status) and its verbs (cli, session, submissions)."""
    if module.startswith(("netlab.core", "netlab.model")):
        return True
    if module in {"netlab.stages.load", "netlab.stages.resolve", "netlab.stages.plan", "netlab.stages.validate"}:
        return True
    if module.startswith("netlab.stages.validate_"):
        return True
    if module.startswith("netlab.features."):
        return module.rpartition(".")[2] not in KERNEL_SIDE
    return False


def test_the_walk_sees_the_whole_package() -> None:
    assert len(modules()) > 80
    assert "netlab.stages.plan" in graph()["netlab.pipeline"]
    assert "netlab.features.registry" in graph()["netlab.stages.plan"]


def test_there_is_no_import_cycle() -> None:
    assert _cycles() == []


def test_no_private_name_is_imported_from_another_package() -> None:
    bad = [f"{m} imports {target}.{name}" for m in modules() for target, name, _t in _imports(m)
           if name.startswith("_") and not name.startswith("__") and target in modules()
           and _package(target) != _package(m)]
    assert bad == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if _is_pure(m)))
def test_a_pure_module_never_reaches_the_kernel(module: str) -> None:
    assert sorted(m for m in _reach(module) if m.startswith("netlab.kernel")) == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("netlab.kernel")))
def test_kernel_primitives_import_nothing_above_them(module: str) -> None:
    allowed = ("netlab.kernel", "netlab.core", "netlab.errors")
    assert sorted(t for t in graph()[module] if not t.startswith(allowed)) == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("netlab.core")))
def test_core_imports_only_core_and_errors_at_run_time(module: str) -> None:
    runtime = {t for t, _n, typing_only in _imports(module) if not typing_only and t in modules()}
    assert sorted(t for t in runtime if not t.startswith(("netlab.core", "netlab.errors"))) == []


NAMES_NO_FEATURE = ("netlab.stages", "netlab.cli", "netlab.vm", "netlab.status", "netlab.pipeline", "netlab.api",
                    "netlab.requirements", "netlab.kernel", "netlab.views", "netlab.vagrant", "netlab.interrupts")


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith(NAMES_NO_FEATURE)))
def test_stages_cli_status_and_vm_name_no_feature(module: str) -> None:
    """They reach features only through the hook table and the registration list, so adding a feature
    never touches them."""
    named = sorted(t for t in graph()[module] if t.startswith("netlab.features") and t not in FEATURE_INTERFACE)
    assert named == []


def test_the_code_cites_only_files_in_the_repository() -> None:
    """Measured facts live in bench/MEASUREMENTS.md and docs/; a citation of a file outside the repository
    (the team's shared notes) cannot be followed by a reader of the code."""
    bad = [str(path.relative_to(ROOT.parent)) for path in modules().values() if "shared/NOTES" in path.read_text()]
    assert bad == []
