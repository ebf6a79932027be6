"""The commands that must start fast import neither pydantic nor scapy (issue [speed]).

``--help``, ``--version``, ``list``, ``down``, ``clean``, ``status``, ``exec`` need no topology model: the
models (pydantic, ≈ 0.1 s) and every feature's validate/resolve code (≈ 0.2 s more) are for ``up`` and
``validate``. Each case runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pydantic", "scapy", "netlab.model.topology", "netlab.features.registry", "netlab.pipeline")

HARNESS = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_after(body: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    code = HARNESS.format(body=body, heavy=heavy)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return list(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["list", "--json"], ["list"], ["down", "--help"],
                                  ["status", "--help"], ["exercise", "--help"]])
def test_a_light_verb_imports_no_model(argv: list[str]) -> None:
    body = ("from netlab.cli.main import main\nimport contextlib, io\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        code = main({argv!r})\n"
            "    except SystemExit as exc:\n        code = exc.code\n"
            "assert code in (0, None), code  # the verb did its work (a failing one could import less)")
    assert _heavy_after(body) == []


def test_what_down_clean_status_and_exec_run_imports_no_model() -> None:
    """What those verbs import before they touch the kernel (they need root to go further; the root test
    tests/integration/test_lean_commands.py runs them on a lab that is up)."""
    body = ("import netlab.api, netlab.removal, netlab.status, netlab.cli.status, netlab.cli.nodes, "
            "netlab.stages.record, netlab.multihost.orchestrate")
    assert _heavy_after(body) == []


def test_up_still_imports_the_pipeline() -> None:
    """The other side: the check above would pass trivially if the harness never saw an import."""
    assert "pydantic" in _heavy_after("from netlab.api import Lab\nLab.load('routed')")


def test_down_builds_its_parser_and_reads_the_state_without_shutil_or_tempfile() -> None:
    """argparse sizes a formatter per ``add_argument`` through shutil (which imports zlib, bz2, lzma): netlab's
    HelpFormatter does not; the multi-host record check imports tempfile only where it runs ansible."""
    body = ("from netlab.cli.main import build_parser\n"
            "args = build_parser(only='down').parse_args(['down', 'routed'])\n"
            "assert args.labs == ['routed']\n"
            "import netlab.api, netlab.removal, netlab.multihost.orchestrate, netlab.stages.record, "
            "netlab.stages.teardown")
    assert _heavy_after(body, ("shutil", "tempfile")) == []
    assert _heavy_after("import argparse; argparse.ArgumentParser().add_argument('-x')", ("shutil",)) == ["shutil"]


def test_running_probes_imports_no_pydantic() -> None:
    """``netlab probe`` reads the recorded probes as netlab.probes.spec records: every kind's runner and
    the report import neither pydantic nor a topology model (importing pydantic and building the
    probe models was ≈ 0.2 s of ``netlab probe routed``'s 0.75 s)."""
    body = ("import importlib\n"
            "from netlab.probes.runner import KINDS\n"
            "for module, _ in KINDS.values():\n"
            "    importlib.import_module(f'netlab.probes.{module}')\n"
            "import netlab.api, netlab.cli.probes, netlab.probes.context, netlab.probes.path, netlab.views.plot, "
            "netlab.multihost.elsewhere")
    assert _heavy_after(body) == []


def test_running_probes_imports_neither_shutil_nor_xml_nor_ctypes_util() -> None:
    """What only some runs need is imported where it is needed: shutil (zlib, bz2, lzma) for a tool lookup,
    ElementTree for ``--junit``, ctypes.util (tempfile, and ``ldconfig -p`` in a child) only if libpcap is not
    under its usual sonames."""
    body = ("import importlib\n"
            "from netlab.probes.runner import KINDS\n"
            "for module, _ in KINDS.values():\n"
            "    importlib.import_module(f'netlab.probes.{module}')\n"
            "import netlab.api, netlab.cli.probes, netlab.probes.context, netlab.probes.path, netlab.probes.result\n"
            "from netlab.probes.packets import compile_bpf\n"
            "assert compile_bpf('arp', 1)")
    assert _heavy_after(body, ("shutil", "xml.etree.ElementTree", "ctypes.util")) == []


def test_no_command_imports_inspect_or_urllib_and_what_uses_them_still_gets_the_real_ones() -> None:
    """netlab.core.lazy: dataclasses without inspect and pathlib without urllib.parse (≈ 20 ms of every command),
    and a dataclass without a docstring, ``Path.as_uri()``, and a later ``import inspect`` behave as before."""
    body = ("import netlab.cli.main\n"
            "spared = [m for m in ('inspect', 'ast', 'tokenize', 'urllib.parse') if m in sys.modules]\n"
            "assert spared == [], spared\n"
            "import dataclasses, inspect, pathlib, urllib.parse\n"
            "assert inspect is sys.modules['inspect'] and urllib.parse is sys.modules['urllib.parse']\n"
            "assert type(inspect).__name__ == 'module' and type(urllib.parse).__name__ == 'module'\n"
            "@dataclasses.dataclass\nclass X:\n    a: int\n"
            "assert X.__doc__ == 'X(a: int)', X.__doc__\n"
            "assert pathlib.Path('/a b').as_uri() == 'file:///a%20b'\n"
            "assert dataclasses.inspect.signature is inspect.signature")
    assert _heavy_after(body) == []
