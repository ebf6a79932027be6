"""The pipeline, driven the way ``netlab.api.Lab.load`` drives it, for tests that need no root.

Every unit test used to chain load → validate → resolve → plan itself, each module a little differently
(dedented or not, with the line map or without, a different source name): when a stage's signature
changed, eleven copies changed with it, and a test could pass on a pipeline netlab never runs. Here there
is one driver, built only from the public stage functions, and every test goes through it.

A *source* is YAML text (dedented first: tests indent their inline labs to match the code) or a mapping
(dumped in key order, so a test can build a lab as data and still get file:line diagnostics).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from netlab.api import Lab
from netlab.errors import Diagnostic, InvalidInput
from netlab.model.plan import Plan
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology
from netlab.stages.load import load_text
from netlab.stages.plan import plan
from netlab.stages.resolve import resolve
from netlab.stages.validate import validate

Source = str | Mapping[str, Any]
"""YAML text, or a lab as data."""

FILE = "lab.yml"
"""The file name diagnostics carry unless a test names another."""


class Built(NamedTuple):
    """What the pure stages make of a source: ``topology, resolved, plan = build(...)``."""

    topology: Topology
    resolved: ResolvedLab
    plan: Plan


def text_of(source: Source) -> str:
    """The YAML text of ``source``: a string dedented, a mapping dumped as it is ordered (unicode kept)."""
    if isinstance(source, str):
        return textwrap.dedent(source)
    return yaml.safe_dump(dict(source), allow_unicode=True, sort_keys=False)


def valid(source: Source, file: str = FILE) -> Topology:
    """The typed topology of a lab the test expects to be valid; fails the test with every diagnostic if not."""
    try:
        return validate(load_text(text_of(source), file))
    except InvalidInput as exc:
        pytest.fail("expected a valid lab, got:\n" + "\n".join(d.render() for d in exc.diagnostics), pytrace=False)


def diagnostics(source: Source, file: str = FILE) -> list[Diagnostic]:
    """Every problem validate finds in ``source``, in file order; ``[]`` if it is valid."""
    try:
        validate(load_text(text_of(source), file))
    except InvalidInput as exc:
        assert exc.diagnostics, "InvalidInput without diagnostics"
        return exc.diagnostics
    return []


def problems(source: Source, file: str = FILE) -> list[Diagnostic]:
    """The problems of a lab the test expects to be invalid; fails the test if validate accepts it."""
    found = diagnostics(source, file)
    if not found:
        pytest.fail("expected validate to refuse the lab, but it is valid", pytrace=False)
    return found


def build(source: Source, file: str = FILE, path: str | None = None, lines: bool = True) -> Built:
    """load → validate → resolve → plan, as ``Lab.load`` and ``Lab.plan`` run them.

    ``file`` is the name diagnostics carry, ``path`` the source path recorded in the resolved lab (default:
    ``file``), ``lines``: hand resolve the line map (what ``up`` does; without it origins are data paths).
    """
    loaded = load_text(text_of(source), file)
    topology = validate(loaded)
    resolved = resolve(topology, path if path is not None else file, loaded.lines if lines else None)
    return Built(topology, resolved, plan(resolved))


def resolved(source: Source, file: str = FILE, path: str | None = None, lines: bool = True) -> ResolvedLab:
    return build(source, file, path, lines).resolved


def planned(source: Source, file: str = FILE, path: str | None = None, lines: bool = True) -> Plan:
    return build(source, file, path, lines).plan


def write_lab(directory: Path, source: Source, filename: str | None = None) -> Path:
    """Write ``source`` as a topology file in ``directory``: ``filename``, else ``<lab name>.yml``."""
    text = text_of(source)
    if filename is None:
        named = re.search(r"^name: *([A-Za-z0-9_.-]+) *$", text, re.M)
        filename = f"{named[1] if named else 'lab'}.yml"
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


def lab_from(directory: Path, source: Source, filename: str | None = None) -> Lab:
    """``Lab.load`` of ``source`` written to ``directory``: the whole pipeline, file reading included."""
    return Lab.load(write_lab(directory, source, filename))
