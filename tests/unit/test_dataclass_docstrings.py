"""Every class netlab makes with the standard ``@dataclass`` has a docstring of its own.

Why a test: for a class without one, dataclasses writes a docstring from ``inspect.signature`` -- the one use it
makes of ``inspect``, which netlab spares every command (netlab.core.lazy; ≈ 14 ms of imports: ast, dis,
tokenize). One undocumented dataclass brings that back, as ``_Conn`` of the services' server did: each forked
service imported inspect on its own, ≈ 30 ms of a ``netlab up`` that starts three. (``@frozen`` writes a
missing docstring without inspect.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import netlab

SOURCE = Path(netlab.__file__).parent


def _is_dataclass_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Name) and target.id == "dataclass") or (
        isinstance(target, ast.Attribute) and target.attr == "dataclass")


def test_every_standard_dataclass_has_its_own_docstring() -> None:
    found, undocumented = 0, []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and any(map(_is_dataclass_decorator, node.decorator_list)):
                found += 1
                if ast.get_docstring(node) is None:
                    undocumented.append(f"{path.relative_to(SOURCE.parent)}:{node.lineno} {node.name}")
    assert found >= 5  # the scan sees them (base.py's contexts, the collector, the VM's streams, ...)
    assert undocumented == []
