"""Stage 1, load: read YAML and remember where every value came from.

Errors found later (by pydantic or by the semantic checks) name a data path such as
``links[2].a.address``; to turn that into ``routed.yml:14`` we keep a map from every path to the
line of its value. PyYAML's composer gives us nodes with marks, so we build plain Python data from
the node tree ourselves (and catch duplicate keys on the way, which YAML would silently accept).

netlab runs as root and reads files other users may write, so whatever the bytes, this stage ends
in data or in :class:`InvalidInput` with file:line and a hint: never a traceback, a hang, or memory
out of proportion to the file. The policy:

* **Encoding**: UTF-8 (what every YAML tool writes); other bytes are reported by line and offset.
  Characters YAML forbids (control characters, U+FFFE, lone surrogates) are reported by line, all
  of them: PyYAML stops at the first with a ReaderError that carries no usable line.
* **Size**: files over :data:`MAX_FILE_BYTES` are not read (a symlink to /dev/zero never ends).
* **Anchors and aliases** are allowed (YAML's way to avoid repetition), but an alias copies all its
  anchor holds, and aliases of aliases multiply: 300 bytes can stand for 10⁹ values ("billion
  laughs"). So a document with aliases is first measured on the composer's *shared* node graph,
  memoised, in time proportional to the file: over :data:`MAX_VALUES` values or :data:`MAX_DEPTH`
  levels once expanded is refused before anything is built, and an alias inside its own anchor
  (``&a [*a]``, an infinite document) is refused by name and line.
* **Nesting** deeper than :data:`MAX_DEPTH` is refused (a real topology is under 10 deep); the bound
  keeps every recursion here far below Python's limit. libyaml refuses 1000 levels on its own.
* **Merge keys** ``<<`` are supported as in YAML 1.1 and PyYAML's SafeLoader (keys written in the
  mapping win, then the merged mappings in order): with anchors allowed, "this node like that one,
  plus a route" is what users write, and refusing it would only make them copy blocks by hand.
  Merged values keep the line where they are written: the anchored mapping (the path says where).
* **Tags**: only what a topology holds: ``!!str !!int !!float !!bool !!null !!timestamp`` on values,
  ``!!seq``/``!!map`` on collections. Anything else (``!!python/...``, ``!!binary``, ``!!set``,
  ``!foo``) is refused by name and never constructed; a value its type cannot read (``!!int abc``,
  or a plain ``2024-13-45``, which YAML takes for a date) is an error, not a traceback.
* **A document that is not a mapping** loads as it is; the validate stage says what it wants.

Structural problems (syntax, encoding, size, depth, cycles) stop at the first; tag and value
problems are collected, with the duplicate keys, so one run shows all of them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from netlab.catalog import MAX_FILE_BYTES
from netlab.core.diagnostics import LoadedFile, PathKey, format_path
from netlab.errors import Diagnostic, InvalidInput

MAX_VALUES = 100_000  #: values (scalars, lists, mappings) once expanded; a 1000-node lab has ≈ 21,000
MAX_DEPTH = 100  #: levels of nested lists and mappings, counting what aliases and merge keys bring in
MAX_REPORTED_LINES = 10  #: lines with bad bytes or characters listed one by one (a binary file has thousands)

_CORE = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE = (_CORE + t for t in ("str", "seq", "map", "merge"))
_SCALAR_KINDS = {"null": "null", "bool": "a boolean", "int": "an integer", "float": "a number",
                 "timestamp": "a date/time", "str": "text"}
#: the constructors SafeLoader would use for the tags a topology may hold (nothing else is ever called)
_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], object]] = {
    _CORE + t: SafeConstructor.yaml_constructors[_CORE + t] for t in _SCALAR_KINDS}
_TAG_HINT = ("a topology holds plain text, numbers, booleans, lists and mappings: remove the tag "
             "(allowed: !!str !!int !!float !!bool !!null !!timestamp)")
_FAILED = object()
_KIND = {ScalarNode: "value", SequenceNode: "list", MappingNode: "mapping"}




def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _event_line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark else None


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _too_deep(source: str, line: int | None) -> Diagnostic:
    return Diagnostic(source, line, "", f"lists and mappings are nested more than {MAX_DEPTH} levels deep "
                      "(counting what aliases and merge keys bring in)",
                      "a topology is a few levels deep; look for runaway brackets or indentation here")


class _Builder:
    """Plain data from a node tree, recording the line of every path and collecting problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[PathKey, int] = {}
        self.dups: list[Diagnostic] = []
        self.errors: list[Diagnostic] = []
        self.constructor = SafeConstructor()

    def problem(self, node: Node, path: PathKey, message: str, hint: str | None) -> object:
        self.errors.append(Diagnostic(self.source, _line(node), format_path(path), message, hint))
        return _FAILED

    def value(self, node: Node, path: PathKey, depth: int) -> object:
        """``depth``: 1 for the document's root. Collections beyond MAX_DEPTH stop everything."""
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, ScalarNode):
            return node.value if node.tag == _STR else self.scalar(node, path)
        if depth > MAX_DEPTH:
            raise InvalidInput([_too_deep(self.source, _line(node))])
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.bad_tag(node, path)

    def bad_tag(self, node: Node, path: PathKey) -> object:
        name = _tag_name(node.tag)
        if node.tag in (_SEQ, _MAP) or node.tag in _SCALARS:
            return self.problem(node, path, f"YAML tag {name} does not apply to a {_KIND[type(node)]}",
                                "remove the tag")
        hint = _TAG_HINT + ("; netlab never builds Python objects" if "python/" in node.tag else "")
        return self.problem(node, path, f"YAML tag {name} is not allowed", hint)

    def scalar(self, node: ScalarNode, path: PathKey) -> object:
        construct = _SCALARS.get(node.tag)
        if construct is None:
            return self.bad_tag(node, path)
        try:
            return construct(self.constructor, node)
        except Exception:  # each type's own parser: ValueError, KeyError, IndexError, TypeError...
            kind, text = _SCALAR_KINDS[node.tag[len(_CORE):]], node.value
            text = text if len(text) <= 40 else text[:30] + "..." + text[-7:]
            return self.problem(node, path, f"{text!r} is not {kind} ({_tag_name(node.tag)})",
                                "fix the value or remove the tag; quote it if it is meant as text")

    def key(self, node: Node, path: PathKey) -> str | None:
        if type(node) is ScalarNode:
            key = node.value if node.tag == _STR else self.scalar(node, path)
            return None if key is _FAILED else key if isinstance(key, str) else str(key)
        self.problem(node, path, f"a mapping key must be a single value, not a {_KIND[type(node)]}",
                     "write the key as plain text")
        return None

    def mapping(self, node: MappingNode, path: PathKey, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                self.dups.append(Diagnostic(self.source, _line(key_node), format_path(child), f"duplicate key {key!r}",
                                            f"it was already given on line {self.lines.get(child, '?')}"))
            result[key] = self.value(value_node, child, depth + 1)
            self.lines[child] = key_node.start_mark.line + 1
        return self.merge(result, merges, path, depth) if merges else result

    def merge(self, result: dict[str, object], merges: list[Node], path: PathKey, depth: int) -> dict[str, object]:
        """``<<``: the merged mappings' keys, the first mapping winning, then the keys written here."""
        if depth >= MAX_DEPTH:  # merged mappings count as one level deeper: inline `<<: {<<: ...}` recurses too
            raise InvalidInput([_too_deep(self.source, _line(merges[0]))])
        sources: list[MappingNode] = []
        for node in merges:
            items: list[Node] = node.value if type(node) is SequenceNode and node.tag == _SEQ else [node]
            maps = [item for item in items if type(item) is MappingNode and item.tag == _MAP]
            if len(maps) == len(items):
                sources += maps
            else:
                self.problem(node, (*path, "<<"), "a merge key `<<` takes a mapping or a list of mappings",
                             "e.g. `<<: *defaults` where `defaults: &defaults {...}`")
        outer, self.lines = self.lines, {}
        merged: dict[str, object] = {}
        try:
            for source in reversed(sources):  # earlier sources overwrite later ones, values and lines
                merged.update(self.mapping(source, path, depth + 1))
        finally:
            merged_lines, self.lines = self.lines, outer
        here = len(path)
        for sub, line in merged_lines.items():
            if sub[here] not in result:  # the keys written in this mapping keep their own lines
                outer[sub] = line
        return {**merged, **result}  # PyYAML's order: merged keys first, values written here win


def _check_expansion(root: Node, source: str, text: str) -> None:
    """Refuse a document whose aliases make it cyclic, too deep or too large once expanded.

    Works on the shared node graph (an alias *is* its anchor's node), remembering each collection's
    expanded size and height, so a billion-laughs document is measured in microseconds. Keys are not
    followed: the builder refuses non-scalar keys without expanding them.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_: set[int] = set()

    def visit(node: Node, depth: int) -> tuple[int, int]:
        if type(node) is ScalarNode:
            return 1, 0
        ident = id(node)
        known = sizes.get(ident)
        if known is not None:
            if depth + known[1] - 1 > MAX_DEPTH:
                raise InvalidInput([_too_deep(source, _line(node))])
            return known
        if ident in open_:
            raise InvalidInput([_cycle(source, text, node)])
        if depth > MAX_DEPTH:
            raise InvalidInput([_too_deep(source, _line(node))])
        open_.add(ident)
        total, height = 1, 0
        for child in node.value if type(node) is SequenceNode else [v for _, v in node.value]:
            size, below = visit(child, depth + 1)
            total, height = total + size, max(height, below)
            if total > MAX_VALUES:
                raise InvalidInput([Diagnostic(
                    source, _line(node), "", f"with its aliases expanded the document has more than {MAX_VALUES:,} "
                    "values (each alias repeats all its anchor holds; aliases of aliases multiply)",
                    "write the repeated parts out, or use fewer levels of aliases")])
        open_.discard(ident)
        sizes[ident] = total, height + 1
        return sizes[ident]

    visit(root, 1)


def _cycle(source: str, text: str, node: Node) -> Diagnostic:
    """The alias that sits inside its own anchor: found again from the events (nodes lose aliases)."""
    hint = "a value cannot contain itself; write out the part you meant to repeat"
    anchors: list[str | None] = []
    lines: dict[str | None, int] = {}
    try:
        for event in yaml.parse(text, Loader=_COMPOSER):
            if isinstance(event, yaml.CollectionStartEvent):
                anchors.append(event.anchor)
                lines[event.anchor] = _event_line(event) or 0
            elif isinstance(event, yaml.CollectionEndEvent):
                anchors.pop()
            elif isinstance(event, yaml.AliasEvent) and event.anchor in anchors:
                return Diagnostic(source, _event_line(event), "", f"alias *{event.anchor} refers to its "
                                  f"own ancestor &{event.anchor} (line {lines[event.anchor]})", hint)
    except yaml.YAMLError:
        pass
    return Diagnostic(source, _line(node), "", "an alias refers to its own ancestor", hint)


def _deep_line(text: str) -> int | None:
    """Line where nesting first exceeds MAX_DEPTH, from the parser's events (iterative, no recursion)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_COMPOSER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return _event_line(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return None


def _per_line(source: str, text: str, positions: list[int], describe: Callable[[list[int]], str],
              hint: str) -> list[Diagnostic]:
    """One diagnostic per line holding ``positions`` (offsets into ``text``), at most MAX_REPORTED_LINES."""
    breaks = [m.start() for m in re.finditer("\n", text)]
    by_line: dict[int, list[int]] = {}
    for pos in positions:
        by_line.setdefault(bisect_right(breaks, pos - 1) + 1, []).append(pos)
    out = [Diagnostic(source, line, "", describe(found), hint)
           for line, found in list(by_line.items())[:MAX_REPORTED_LINES]]
    if len(by_line) > MAX_REPORTED_LINES:
        first = list(by_line)[MAX_REPORTED_LINES]
        out.append(Diagnostic(source, first, "", f"... and {len(by_line) - MAX_REPORTED_LINES} more lines like these"))
    return out


def _bad_characters(text: str, source: str) -> list[Diagnostic]:
    positions = [m.start() for m in yaml.reader.Reader.NON_PRINTABLE.finditer(text)]

    def describe(found: list[int]) -> str:
        chars = list(dict.fromkeys(text[p] for p in found))
        what = "control character" if all(c < "\x20" or "\x7f" <= c <= "\x9f" for c in chars) else "character"
        names = ", ".join(f"U+{ord(c):04X}" for c in chars)
        return (f"{what}s {names} are not allowed in YAML" if len(chars) > 1
                else f"{what} {names} is not allowed in YAML")

    return _per_line(source, text, positions, describe, 'delete it, or write it as an escape such as "\\x07" inside '
                     "double quotes: YAML text holds only tabs, line breaks and printable characters") or [
        Diagnostic(source, None, "", "the file holds characters YAML does not allow")]


def _syntax_error(text: str, source: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit (1000 levels)
        return _too_deep(source, _deep_line(text))
    if len(text) < 200_000:  # the pure-Python parser words errors better ("expected <block end>") but is slow
        try:
            yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as slow_exc:
            exc = slow_exc
        except (yaml.YAMLError, RecursionError):
            pass
    mark, problem = exc.problem_mark, exc.problem or "the parser gave up here"
    if isinstance(exc, yaml.composer.ComposerError) and exc.context and exc.context_mark:
        problem = f"{exc.context} (line {exc.context_mark.line + 1}), {problem} here"  # problem: "second occurrence"
    hint = ("a topology file is one YAML document: remove the second `---`" if "single document" in problem
            else "give each anchor (&name) its own name" if "duplicate anchor" in problem
            else "an alias (*name) needs its anchor (&name) earlier in the file" if "undefined alias" in problem
            else "check indentation and quoting around this line")
    return Diagnostic(source, mark.line + 1 if mark else None, "", f"YAML syntax error: {problem}", hint)


#: libyaml's composer when PyYAML was built with it: ≈ 10x faster on a 1000-node lab, same marks
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_text(text: str, source: str) -> LoadedFile:
    """Parse YAML text; every problem becomes an :class:`InvalidInput` naming file and line."""
    try:
        root = yaml.compose(text, Loader=_COMPOSER)
    except (yaml.reader.ReaderError, UnicodeEncodeError):  # libyaml encodes to UTF-8: lone surrogates fail there
        raise InvalidInput(_bad_characters(text, source)) from None
    except yaml.MarkedYAMLError as exc:
        raise InvalidInput([_syntax_error(text, source, exc)]) from None
    except RecursionError:  # only without libyaml: PyYAML's own composer recurses once per level
        raise InvalidInput([_too_deep(source, _deep_line(text))]) from None
    except yaml.YAMLError as exc:  # none known; but a traceback is never the answer
        raise InvalidInput([Diagnostic(source, None, "", f"YAML error: {exc}")]) from None
    if root is None:
        raise InvalidInput([Diagnostic(source, 1, "", "the file is empty",
                                       "a lab needs at least `name:` and `nodes:`")])
    if "*" in text:  # no alias without a `*`: only then can nodes be shared, and the graph cyclic
        _check_expansion(root, source, text)
    builder = _Builder(source)
    data = builder.value(root, (), 1)
    if len(builder.lines) > MAX_VALUES:
        raise InvalidInput([Diagnostic(source, None, "", f"the document has {len(builder.lines):,} values, "
                                       f"more than the {MAX_VALUES:,} netlab reads",
                                       "a 1000-node lab has about 21,000; is this the right file?")])
    if builder.errors:
        raise InvalidInput(sorted(builder.errors + builder.dups, key=lambda d: (d.line or 0, d.path)))
    return LoadedFile(source=source, data=data, text=text, lines=builder.lines, duplicate_keys=tuple(builder.dups))


def load_file(path: Path, display: str | None = None) -> LoadedFile:
    """Read a topology file from disk: at most MAX_FILE_BYTES, UTF-8."""
    name = display or str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InvalidInput([Diagnostic(name, None, "", "no such file")]) from None
    except OSError as exc:
        raise InvalidInput([Diagnostic(name, None, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInput([Diagnostic(name, None, "", f"the file is larger than {MAX_FILE_BYTES >> 20} MiB",
                                       "a topology is a few hundred KiB at most; is this the right file?")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(_not_utf8(raw, name)) from None
    return load_text(text, name)


def _not_utf8(raw: bytes, name: str) -> list[Diagnostic]:
    text = raw.decode("utf-8", "surrogateescape")  # each undecodable byte becomes one of U+DC80..U+DCFF
    positions = [m.start() for m in re.finditer("[\udc80-\udcff]", text)]

    def describe(found: list[int]) -> str:
        offset = len(text[:found[0]].encode("utf-8", "surrogateescape"))
        more = f" (and {len(found) - 1} more on this line)" if len(found) > 1 else ""
        return f"byte 0x{ord(text[found[0]]) - 0xDC00:02x} at offset {offset} is not UTF-8{more}"

    return _per_line(name, text, positions, describe, "netlab reads topology files as UTF-8: convert the file "
                     "(e.g. `iconv -f latin1 -t utf-8`) or retype the character")
