"""Stage 1, load: read YAML and remember where every value came from.

Errors found later (by pydantic or by the semantic checks) name a data path such as
``links[2].a.address``; to turn that into ``routed.yml:14`` we keep a map from every path to the
line of its value. PyYAML's composer gives us nodes with marks, so we build plain Python data from
the node tree ourselves (and catch duplicate keys on the way, which YAML would silently accept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from netlab.errors import Diagnostic, InvalidInput

PathKey = tuple[str | int, ...]


def format_path(path: PathKey) -> str:
    """``('links', 2, 'a', 'address')`` → ``links[2].a.address``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class LoadedFile:
    """The raw data of a topology file and the line of every value in it."""

    source: str
    """Path of the file as the user named it (used in every diagnostic)."""
    data: object
    text: str
    lines: dict[PathKey, int] = field(default_factory=dict)
    duplicate_keys: tuple[Diagnostic, ...] = ()

    def line_of(self, path: PathKey) -> int | None:
        """Line of ``path``, or of its nearest ancestor that exists (an unknown key's parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], dups: list[Diagnostic],
               source: str, scalars: yaml.SafeLoader) -> object:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = scalars.construct_object(key_node)  # scalar keys only
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            child = (*path, str(key))
            if key in result:
                dups.append(Diagnostic(source, key_node.start_mark.line + 1, format_path(child),
                                       f"duplicate key {key!r}",
                                       f"it was already given on line {lines.get(child, '?')}"))
            result[key if isinstance(key, str) else str(key)] = _construct(value_node, child, lines, dups,
                                                                           source, scalars)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, dups, source, scalars) for i, item in enumerate(node.value)]
    return scalars.construct_object(node)


#: libyaml's composer when PyYAML was built with it: ≈ 10x faster on a 1000-node lab, same marks
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_text(text: str, source: str) -> LoadedFile:
    """Parse YAML text; a syntax error becomes an :class:`InvalidInput` naming file and line."""
    try:
        root = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as fast_exc:
        exc = fast_exc
        try:  # the pure-Python parser words its errors better ("expected <block end>"); errors are rare
            yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as slow_exc:
            exc = slow_exc
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise InvalidInput([Diagnostic(source, line, "", f"YAML syntax error: {exc.problem}",
                                       "check indentation and quoting around this line")]) from None
    if root is None:
        raise InvalidInput([Diagnostic(source, 1, "", "the file is empty",
                                       "a lab needs at least `name:` and `nodes:`")])
    lines: dict[PathKey, int] = {}
    dups: list[Diagnostic] = []
    data = _construct(root, (), lines, dups, source, yaml.SafeLoader(""))
    return LoadedFile(source=source, data=data, text=text, lines=lines, duplicate_keys=tuple(dups))


def load_file(path: Path, display: str | None = None) -> LoadedFile:
    """Read a topology file from disk."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Diagnostic(name, None, "", "no such file")]) from None
    except OSError as exc:
        raise InvalidInput([Diagnostic(name, None, "", f"cannot read: {exc.strerror}")]) from None
    return load_text(text, name)
