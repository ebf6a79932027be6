"""Stage 1, load: YAML to plain data plus the line of every data path."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.errors import Diagnostic, InvalidInput
from netlab.stages.load import format_path, load_file, load_text

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
