"""Stage 1, load: YAML to plain data plus the line of every data path."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from netlab.core.diagnostics import format_path
from netlab.errors import Diagnostic, InvalidInput
from netlab.stages import load
from netlab.stages.load import load_file, load_text

ROUTED = """\
name: routed
nodes:
  client:
    routes:
      - {to: default, via: 10.0.1.1}
  router:
    sysctls:
      net.ipv4.ip_forward: 1
links:
  - a: {node: client, address: 10.0.1.10/24}
    b:
      node: router
      address:
        - 10.0.1.1/24
        - fd00::1/64
"""


def load_error(text: str, source: str = "lab.yml") -> list[Diagnostic]:
    with pytest.raises(InvalidInput) as info:
        load_text(text, source)
    return info.value.diagnostics


def test_format_path_joins_keys_with_dots_and_indexes_with_brackets() -> None:
    assert format_path(("links", 2, "a", "address")) == "links[2].a.address"
    assert format_path(("nodes", "r1", "routes", 0, "via")) == "nodes.r1.routes[0].via"
    assert format_path(()) == ""


def test_load_builds_plain_data() -> None:
    loaded = load_text(ROUTED, "routed.yml")
    assert isinstance(loaded.data, dict)
    assert loaded.data["nodes"]["router"]["sysctls"] == {"net.ipv4.ip_forward": 1}
    assert loaded.data["links"][0]["b"]["address"] == ["10.0.1.1/24", "fd00::1/64"]
    assert loaded.source == "routed.yml"
    assert loaded.text == ROUTED
    assert loaded.duplicate_keys == ()


@pytest.mark.parametrize(("path", "line"), [
    (("name",), 1),
    (("nodes",), 2),
    (("nodes", "client"), 3),
    (("nodes", "client", "routes"), 4),
    (("nodes", "client", "routes", 0), 5),
    (("nodes", "client", "routes", 0, "via"), 5),
    (("nodes", "router", "sysctls", "net.ipv4.ip_forward"), 8),
    (("links", 0), 10),
    (("links", 0, "a", "address"), 10),
    (("links", 0, "b"), 11),
    (("links", 0, "b", "node"), 12),
    (("links", 0, "b", "address"), 13),
    (("links", 0, "b", "address", 0), 14),
    (("links", 0, "b", "address", 1), 15),
])
def test_every_data_path_has_the_line_of_its_key_or_item(path: tuple[str | int, ...], line: int) -> None:
    assert load_text(ROUTED, "routed.yml").line_of(path) == line


def test_line_of_an_unknown_path_is_the_line_of_its_nearest_ancestor() -> None:
    loaded = load_text(ROUTED, "routed.yml")
    assert loaded.line_of(("nodes", "router", "adress")) == 6
    assert loaded.line_of(("links", 0, "b", "mac")) == 11
    assert loaded.line_of(("lans",)) == 1  # the root mapping starts on line 1


def test_duplicate_keys_are_collected_with_both_lines() -> None:
    text = "name: x\nnodes:\n  h1: {}\n  h2: {}\n  h1: {description: again}\n"
    loaded = load_text(text, "dup.yml")
    assert len(loaded.duplicate_keys) == 1
    dup = loaded.duplicate_keys[0]
    assert (dup.file, dup.line, dup.path) == ("dup.yml", 5, "nodes.h1")
    assert dup.message == "duplicate key 'h1'"
    assert dup.hint == "it was already given on line 3"


def test_duplicate_keys_are_found_at_any_depth() -> None:
    text = "name: x\nname: y\nnodes:\n  h1:\n    description: a\n    description: b\n"
    paths = [(d.line, d.path) for d in load_text(text, "dup.yml").duplicate_keys]
    assert paths == [(2, "name"), (6, "nodes.h1.description")]


def test_yaml_syntax_error_names_file_and_line() -> None:
    (diag,) = load_error("name: x\nnodes:\n  h1: {}\n   h2: {}\n", "broken.yml")
    assert diag.file == "broken.yml"
    assert diag.line == 4
    assert diag.message.startswith("YAML syntax error: ")
    assert diag.hint == "check indentation and quoting around this line"


def test_unclosed_flow_mapping_is_a_syntax_error() -> None:
    (diag,) = load_error("name: x\nnodes:\n  h1: {description: a\n  h2: {}\n")
    assert diag.message.startswith("YAML syntax error")
    assert diag.line is not None and diag.line >= 3


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_invalid_input(text: str) -> None:
    (diag,) = load_error(text, "empty.yml")
    assert (diag.file, diag.line, diag.message) == ("empty.yml", 1, "the file is empty")
    assert diag.hint is not None and "name:" in diag.hint


def test_load_file_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        load_file(tmp_path / "nope.yml", display="nope.yml")
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.line, diag.message) == ("nope.yml", None, "no such file")


def test_load_file_uses_the_display_name_in_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text("name: x\nnodes: {a: {}}\n", encoding="utf-8")
    assert load_file(path, display="labs/lab.yml").source == "labs/lab.yml"
    assert load_file(path).source == str(path)


def test_invalid_input_renders_file_line_path_message_and_hint() -> None:
    diag = Diagnostic("lab.yml", 7, "links[0].a.node", "unknown node 'routr'", "did you mean 'router'?")
    assert diag.render() == "lab.yml:7: links[0].a.node: unknown node 'routr'\n    hint: did you mean 'router'?"
    assert Diagnostic("lab.yml", None, "", "no such file").render() == "lab.yml: no such file"
    assert str(InvalidInput([diag, diag])).count("lab.yml:7") == 2


# ------------------------------------------------------------------ hostile input: never a traceback, hang or blowup

def test_libyaml_composes_when_pyyaml_has_it() -> None:
    if yaml.__with_libyaml__:
        assert load._COMPOSER is yaml.CSafeLoader


def test_bytes_that_are_not_utf8_are_reported_with_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    raw = b"name: x\nnodes:\n  h1: {description: caf\xe9}\n  h2: {description: na\xefve \xff}\n"
    path.write_bytes(raw)
    with pytest.raises(InvalidInput) as info:
        load_file(path, display="latin1.yml")
    first, second = info.value.diagnostics
    assert (raw.index(b"\xe9"), raw.index(b"\xef")) == (38, 63)
    assert (first.file, first.line, first.message) == ("latin1.yml", 3, "byte 0xe9 at offset 38 is not UTF-8")
    assert first.hint is not None and "UTF-8" in first.hint
    assert (second.line, second.message) == (4, "byte 0xef at offset 63 is not UTF-8 (and 1 more on this line)")


def test_a_binary_file_gives_a_bounded_number_of_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "binary.yml"
    path.write_bytes(b"\xff\n" * 500)
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    diags = info.value.diagnostics
    assert len(diags) == load.MAX_REPORTED_LINES + 1
    assert (diags[-1].line, diags[-1].message) == (11, "... and 490 more lines like these")


def test_a_file_larger_than_the_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.yml"
    path.write_text("name: x\n" + "# padding\n" * 200, encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        load_file(path, display="big.yml")
    (diag,) = info.value.diagnostics
    assert diag.message.startswith("the file is larger than")


@pytest.mark.parametrize(("text", "line", "message"), [
    ("name: x\nnodes:\n  h1: {description: 'a\x07b'}\n", 3, "control character U+0007 is not allowed in YAML"),
    ("name: x\x00\n", 1, "control character U+0000 is not allowed in YAML"),
    ("name: x\nnodes: {}\n# \x1b[31m \x08\n", 3, "control characters U+001B, U+0008 are not allowed in YAML"),
    ("name: x\n\nd: \ufffe\n", 3, "character U+FFFE is not allowed in YAML"),
    ("name: \udcff\n", 1, "character U+DCFF is not allowed in YAML"),  # a lone surrogate: only through the API
])
def test_characters_yaml_forbids_are_reported_by_line(text: str, line: int, message: str) -> None:
    (diag,) = load_error(text)
    assert (diag.line, diag.message) == (line, message)
    assert diag.hint is not None and "double quotes" in diag.hint


def test_every_line_with_a_control_character_is_reported() -> None:
    diags = load_error("name: x\x01\nnodes:\n  h1: \x02\n")
    assert [(d.line, d.message) for d in diags] == [(1, "control character U+0001 is not allowed in YAML"),
                                                    (3, "control character U+0002 is not allowed in YAML")]


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))


def test_an_alias_bomb_is_refused_at_once_without_allocating() -> None:
    tracemalloc.start()
    start = time.monotonic()
    try:
        (diag,) = load_error(BOMB)  # 9**10 values once expanded; the old loader grew to 6-8 GB and never ended
        elapsed = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 2_000_000  # bytes: the nodes of a 500-byte file, nothing expanded
    assert diag.line is not None and 2 <= diag.line <= 10
    assert "more than 100,000 values" in diag.message and "alias" in diag.message


def test_aliases_are_allowed_and_every_copy_has_its_lines() -> None:
    text = "name: x\ndefaults: &d\n  sysctls: {net.ipv4.ip_forward: 1}\nnodes:\n  r1: *d\n  r2: *d\n"
    loaded = load_text(text, "lab.yml")
    assert loaded.data["nodes"]["r2"] == {"sysctls": {"net.ipv4.ip_forward": 1}}  # type: ignore[index]
    assert loaded.data["nodes"]["r1"] is not loaded.data["nodes"]["r2"]  # type: ignore[index]
    assert loaded.lines[("nodes", "r2")] == 6
    assert loaded.lines[("nodes", "r2", "sysctls", "net.ipv4.ip_forward")] == 3  # where the value is written


def test_expansion_just_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_VALUES", 32)
    base = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    loaded = load_text(base + "b: [*a, *a]\n", "lab.yml")  # root 1 + a 10 + b (1 + 2 * 10) = 32 values
    assert len(loaded.lines) == 32
    (diag,) = load_error(base + "b: [*a, *a, *a, *a]\n")  # b alone is 41: refused at b's line
    assert diag.line == 2 and "more than 32 values" in diag.message


def test_a_document_over_the_value_limit_is_refused_even_without_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_VALUES", 10)
    (diag,) = load_error("nodes: [" + ", ".join(["x"] * 20) + "]\n")
    assert diag.message == "the document has 22 values, more than the 10 netlab reads"


@pytest.mark.parametrize(("text", "line", "anchor_line"), [
    ("name: x\nnodes: &a\n  h1: [*a]\n", 3, 2),
    ("a: &a [*a]\n", 1, 1),
    ("a: &a\n  b:\n    <<: *a\n", 3, 1),  # through a merge key
])
def test_an_alias_inside_its_own_anchor_is_refused(text: str, line: int, anchor_line: int) -> None:
    (diag,) = load_error(text)
    assert diag.line == line
    assert diag.message == f"alias *a refers to its own ancestor &a (line {anchor_line})"


def nested(levels: int) -> str:
    """``levels`` nested flow lists, one opening bracket per line (so line n opens level n)."""
    return "[\n" * levels + "x" + "]" * levels + "\n"


def test_nesting_up_to_the_limit_loads_and_one_more_level_is_refused() -> None:
    assert load_text(nested(load.MAX_DEPTH), "lab.yml").line_of((0,) * 99) == 100
    (diag,) = load_error(nested(load.MAX_DEPTH + 1))
    assert diag.line == load.MAX_DEPTH + 1
    assert diag.message.startswith("lists and mappings are nested more than 100 levels deep")


@pytest.mark.parametrize("text", [nested(10_000), "- " * 10_000 + "x\n", "a: " + "{b: " * 10_000 + "c" + "}" * 10_000])
def test_nesting_ten_thousand_deep_is_refused_with_its_line(text: str) -> None:
    (diag,) = load_error(text)
    assert diag.line == (101 if text.startswith("[") else 1)
    assert "nested more than 100 levels deep" in diag.message


def test_nesting_is_bounded_without_libyaml_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "_COMPOSER", yaml.SafeLoader)  # whose composer recurses once per level
    (diag,) = load_error(nested(10_000))
    assert (diag.line, diag.message.split(" (")[0]) == (101, "lists and mappings are nested more than 100 levels deep")


def test_aliases_count_towards_depth() -> None:
    chain = "l0: &l0 [x]\n" + "".join(f"l{i}: &l{i} [*l{i - 1}]\n" for i in range(1, 150))
    (diag,) = load_error(chain)
    assert "nested more than 100 levels deep" in diag.message


def test_python_tags_are_refused_by_name_and_nothing_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []
    monkeypatch.setattr(os, "system", lambda *args: called.append(args))
    marker = tmp_path / "ran"
    (diag,) = load_error(f"name: x\nnodes: !!python/object/apply:os.system ['touch {marker}']\n")
    assert (diag.line, diag.path) == (2, "nodes")
    assert diag.message == "YAML tag !!python/object/apply:os.system is not allowed"
    assert diag.hint is not None and "never builds Python objects" in diag.hint
    assert called == [] and not marker.exists()


@pytest.mark.parametrize(("value", "message"), [
    ("!foo x", "YAML tag !foo is not allowed"),
    ("!!binary aGk=", "YAML tag !!binary is not allowed"),
    ("!!set {a, b}", "YAML tag !!set is not allowed"),
    ("!!python/name:os.system ''", "YAML tag !!python/name:os.system is not allowed"),
    ("!!int [1]", "YAML tag !!int does not apply to a list"),
    ("!!seq {a: 1}", "YAML tag !!seq does not apply to a mapping"),
    ("!!int abc", "'abc' is not an integer (!!int)"),
    ("!!int ''", "'' is not an integer (!!int)"),
    ("!!float x", "'x' is not a number (!!float)"),
    ("!!bool maybe", "'maybe' is not a boolean (!!bool)"),
    ("!!timestamp x", "'x' is not a date/time (!!timestamp)"),
    ("2024-13-45", "'2024-13-45' is not a date/time (!!timestamp)"),  # YAML resolves it as a date by its shape
])
def test_tags_and_values_that_do_not_construct_are_errors(value: str, message: str) -> None:
    (diag,) = load_error(f"name: x\nnodes:\n  h1: {{description: {value}}}\n")
    assert (diag.line, diag.path, diag.message) == (3, "nodes.h1.description", message)
    assert diag.hint


def test_standard_scalar_tags_construct() -> None:
    text = "a: !!str 0755\nb: !!int '7'\nc: !!float 1\nd: !!bool yes\ne: !!null ''\nf: ! 12\ng: !!map {x: !!seq [1]}\n"
    assert load_text(text, "lab.yml").data == {"a": "0755", "b": 7, "c": 1.0, "d": True, "e": None, "f": 12,
                                              "g": {"x": [1]}}


def test_tag_problems_are_collected_with_duplicate_keys_in_line_order() -> None:
    diags = load_error("name: !!int x\nnodes:\n  h1: !foo {}\n  h1: {}\n  h2: !!python/none ''\n")
    assert [(d.line, d.path) for d in diags] == [(1, "name"), (3, "nodes.h1"), (4, "nodes.h1"), (5, "nodes.h2")]
    assert diags[2].message == "duplicate key 'h1'"


def test_a_mapping_key_must_be_a_single_value() -> None:
    (diag,) = load_error("name: x\n? [a, b]\n: 1\n")
    assert (diag.line, diag.message) == (2, "a mapping key must be a single value, not a list")


def test_merge_keys_merge_with_explicit_keys_winning_and_lines_where_values_are_written() -> None:
    text = ("name: x\n"
            "base: &base\n"
            "  description: base\n"
            "  sysctls: {net.ipv4.ip_forward: 1}\n"
            "nodes:\n"
            "  r1:\n"
            "    <<: *base\n"
            "    description: mine\n")
    loaded = load_text(text, "lab.yml")
    assert loaded.data["nodes"]["r1"] == {"description": "mine", "sysctls": {"net.ipv4.ip_forward": 1}}  # type: ignore[index]
    assert list(loaded.data["nodes"]["r1"]) == ["description", "sysctls"]  # type: ignore[index]  # as PyYAML
    assert loaded.lines[("nodes", "r1", "description")] == 8
    assert loaded.lines[("nodes", "r1", "sysctls", "net.ipv4.ip_forward")] == 4
    assert loaded.duplicate_keys == ()
    assert loaded.data == yaml.safe_load(text)


def test_merge_of_a_list_lets_the_first_mapping_win() -> None:
    text = "a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nc:\n  <<: [*a, *b]\n  y: 3\n"
    loaded = load_text(text, "lab.yml")
    assert loaded.data == yaml.safe_load(text)
    assert loaded.data["c"] == {"x": 1, "y": 3, "z": 2}  # type: ignore[index]
    assert (loaded.lines[("c", "x")], loaded.lines[("c", "y")], loaded.lines[("c", "z")]) == (1, 5, 2)


def test_a_merge_key_needs_mappings() -> None:
    (diag,) = load_error("name: x\nnodes:\n  h1:\n    <<: [a]\n")
    assert (diag.line, diag.path) == (4, "nodes.h1.<<")
    assert diag.message == "a merge key `<<` takes a mapping or a list of mappings"


@pytest.mark.parametrize(("text", "data"), [("- a\n- b\n", ["a", "b"]), ("just text\n", "just text"),
                                            ("~\n", None), ("42\n", 42)])
def test_a_document_that_is_not_a_mapping_loads_for_validate_to_judge(text: str, data: object) -> None:
    loaded = load_text(text, "lab.yml")
    assert loaded.data == data and loaded.line_of(("nodes",)) == 1


@pytest.mark.parametrize(("text", "line", "hint"), [
    ("name: x\n---\nname: y\n", 2, "one YAML document"),
    ("a: &x 1\nb: &x 2\n", 2, "its own name"),
    ("a: *nope\n", 1, "needs its anchor"),
])
def test_anchor_and_document_errors_have_a_hint(text: str, line: int, hint: str) -> None:
    (diag,) = load_error(text)
    assert diag.line == line and diag.message.startswith("YAML syntax error: ")
    assert diag.hint is not None and hint in diag.hint
