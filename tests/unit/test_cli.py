"""The command line, without root: validate, up --dry-run, schema, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netlab import catalog
from netlab.api import Lab
from netlab.cli.main import build_parser, main
from netlab.model.topology import Node
from tests.helpers import REPO, write_lab


def verbs() -> list[str]:
    """Every verb the parser knows, so a new verb is covered by the --help test without editing it."""
    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    return sorted(sub.choices or {})


VERBS = verbs()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_catalog_labs_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", *catalog.names()], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{name}: valid (lab {name})" for name in catalog.names()]


def test_validate_bad_file_exits_2_with_every_problem_on_stderr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    name = write_lab(tmp_path, "name: t\nnodes:\n  a: {colour: red}\n  b: {routes: [{to: x, dev: lo}]}\n",
                     "bad.yml").name
    code, out, err = run(["validate", name], capsys)
    assert code == 2
    assert out == ""
    assert err == (
        "bad.yml:3: nodes.a.colour: unknown key 'colour'\n"
        f"    hint: allowed keys here: {', '.join(Node.model_fields)}\n"
        "bad.yml:4: nodes.b.routes[0].to: 'x' is not a prefix\n"
        "    hint: example: 10.0.2.0/24 or default\n"
        "bad.yml: 2 problems\n")


def test_validate_checks_every_file_and_fails_if_one_is_bad(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    bad = write_lab(tmp_path, "name: t\n", "bad.yml").name
    code, _out, err = run(["validate", "routed", bad], capsys)
    assert code == 2
    assert err == "bad.yml:1: nodes: required key 'nodes' is missing\nbad.yml: 1 problem\n"


def test_validate_json_reports_diagnostics_as_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    bad = write_lab(tmp_path, "name: T\nnodes: {a: {}}\n", "bad.yml").name
    code, out, err = run(["validate", "--json", "lan", bad], capsys)
    assert (code, err) == (2, "")
    data = json.loads(out)
    assert data[0] == {"file": "lan", "valid": True, "lab": "lan", "errors": []}
    assert data[1]["valid"] is False
    assert data[1]["errors"][0]["line"] == 1
    assert data[1]["errors"][0]["path"] == "name"


def test_validate_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = run(["validate", "nope.yml"], capsys)
    assert code == 2
    assert err == "nope.yml: no such file\nnope.yml: 1 problem\n"


def test_validate_unknown_catalog_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(["validate", "no-such-lab"], capsys)
    assert code == 2
    assert err.startswith("no-such-lab: no such lab file or catalog lab\n    hint: catalog labs: ")


def test_up_dry_run_json_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["up", "routed", "--dry-run", "--json"], capsys)
    assert (code, err) == (0, "")
    assert out == Lab.load("routed").plan().to_json()
    assert json.loads(out)["namespaces"] == ["nl-routed.client", "nl-routed.router", "nl-routed.server"]


def test_up_dry_run_prints_the_plan_by_phase(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(["up", "lan", "--dry-run"], capsys)
    assert code == 0
    assert out.startswith("plan for lab lan (4 namespaces, 18 actions; nothing applied)\nnetns (4)\n")
    assert "  veth nl-lan.h1:eth0 <-> nl-lan.lan1:h1\n" in out


def test_up_dry_run_of_a_bad_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    bad = write_lab(tmp_path, "name: t\nnodes: {a: {}}\nlinks: [{a: {node: a}, b: {node: z}}]\n", "bad.yml").name
    code, out, err = run(["up", bad, "--dry-run"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("error: bad.yml:3: links[0].b.node: unknown node 'z'\n")


def schema(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, _err = run(["schema"], capsys)
    assert code == 0
    data: dict[str, object] = json.loads(out)
    return data


def test_schema_is_a_json_schema_of_the_topology(capsys: pytest.CaptureFixture[str]) -> None:
    data = schema(capsys)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["title"] == "netlab topology"
    assert data["required"] == ["name", "nodes"]
    assert data["additionalProperties"] is False
    assert set(data["$defs"]) >= {"Node", "Link", "Lan", "Endpoint", "Route"}  # type: ignore[arg-type]


def test_schema_is_valid_draft_2020_12(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema(capsys))


def test_schema_rejects_an_unknown_key(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema(capsys))
    assert not validator.is_valid({"name": "t", "nodes": {"a": {"colour": "red"}}})
    assert validator.is_valid({"name": "t", "nodes": {"a": {"sysctls": {"net.ipv4.ip_forward": 1}}}})


@pytest.mark.parametrize("name", catalog.names())
def test_schema_validates_the_catalog_files(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema(capsys))
    data = yaml.safe_load((catalog.catalog_dir() / f"{name}.yml").read_text(encoding="utf-8"))
    assert [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)] == []


def test_schema_accepts_a_node_without_body(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema(capsys))
    assert [e.message for e in validator.iter_errors({"name": "t", "nodes": {"a": None}})] == []


@pytest.mark.parametrize("argv", [["--help"], *([verb, "--help"] for verb in VERBS)])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: netlab")


def test_the_core_verbs_exist() -> None:
    assert set(VERBS) >= {"list", "validate", "up", "down", "status", "exec", "shell", "clean", "schema"}


def test_no_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: netlab" in capsys.readouterr().err


def test_python_m_netlab_validate_runs_as_a_program(tmp_path: Path) -> None:
    write_lab(tmp_path, "name: t\nnodes: {a: {}}\nlinks: [{a: {node: a}, b: {node: a}}]\n", "bad.yml")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "netlab", "validate", "bad.yml", "routed"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("bad.yml:3: links[0]: both ends are on node 'a'\n")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [["up", "routed"], ["down", "routed"], ["clean"],
                                  ["exec", "routed", "client", "--", "true"]])
def test_a_user_without_root_is_told_why_and_gets_exit_5(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from netlab.cli.main import main

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("NETLAB_RUN_DIR", str(tmp_path / "run"))  # up compiles first: its cache, not the machine's
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "netlab needs root" in err and "CAP_NET_ADMIN" in err and "Traceback" not in err


def test_list_marks_the_exercises_in_its_table(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The tag is in brackets, which rich would read as markup and drop: the table must still show it."""
    monkeypatch.setenv("COLUMNS", "300")
    code, out, _ = run(["list"], capsys)
    assert code == 0
    line = next(ln for ln in out.splitlines() if " ex-router-forwarding " in ln)
    assert "[exercise (routing, level 1)]" in line
    assert "[exercise" not in next(ln for ln in out.splitlines() if " routed " in ln)


@pytest.mark.parametrize("columns", [None, "57", "0", "wide"])
def test_help_is_sized_as_shutil_would_size_it(columns: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """netlab's HelpFormatter reads the width itself (argparse's asks shutil, an import of zlib, bz2, lzma)."""
    import shutil

    from netlab.cli.common import terminal_columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
