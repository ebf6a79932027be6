"""``down``, ``status``, ``exec``, ``probe`` and ``clean`` of a lab that is really up import neither pydantic, scapy nor
pyroute2.

The unit test tests/unit/test_lean_imports.py checks what those verbs import before they need root; this one
runs them as processes on a lab that is up, through their whole work (state read, kernel read or removal),
and checks what they imported at exit -- so a lazy import that a later code path undoes is caught.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import catalog_copy, netlab

pytestmark = pytest.mark.root

HEAVY = ("pydantic", "scapy", "pyroute2", "netlab.model.topology", "netlab.features.registry", "netlab.pipeline",
         "netlab.model.resolved")
"""pyroute2: ``status`` reads links and addresses with netlab.kernel.linkdump (importing pyroute2 took ≈ 0.2 s)."""
HARNESS = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("HEAVY " + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules))))
from netlab.cli.main import main
sys.exit(main({argv!r}))
"""


def _run(*argv: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the CLI; what of HEAVY it imported (the resolved lab's types only where a verb shows the lab)."""
    code = HARNESS.format(heavy=HEAVY, argv=list(argv))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    marker = done.stderr.rsplit("HEAVY ", 1)
    assert len(marker) == 2, done.stderr
    return done, list(json.loads(marker[1]))


def test_the_commands_of_a_lab_that_is_up_import_no_model(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "routed", "lean-cmds")
    up = netlab("up", str(path))
    assert up.returncode == 0, up.stderr
    try:
        for argv in (("status",), ("status", "lean-cmds"), ("status", "lean-cmds", "--json"),
                     ("exec", "lean-cmds", "client", "--", "ping", "-c1", "-W2", "10.0.2.10")):
            done, heavy = _run(*argv)
            assert done.returncode == 0, (argv, done.stdout, done.stderr)
            assert set(heavy) <= {"netlab.model.resolved"}, argv  # status and exec decode the resolved lab
        status = json.loads(_run("status", "lean-cmds", "--json")[0].stdout)
        assert status  # the lab's nodes, read back
        done, heavy = _run("probe", "lean-cmds", "--json")  # the recorded probes as netlab.probes.spec records
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["passed"] is True
        assert set(heavy) <= {"netlab.model.resolved"}, heavy
        done, heavy = _run("down", "lean-cmds")
        assert done.returncode == 0 and "removed 3 namespaces" in done.stdout, done.stdout + done.stderr
        assert heavy == []  # down reads the state's head alone: not even the resolved lab's types
    finally:
        netlab("down", "lean-cmds")
    done, heavy = _run("clean")
    assert done.returncode == 0 and heavy == []


def test_up_of_an_unchanged_file_imports_no_model_and_an_edited_one_is_compiled_again(tmp_path: Path) -> None:
    """The compiled-lab cache (netlab.stages.compile_cache): the second ``up`` of a file applies its cached plan
    without pydantic or any stage -- and builds the same lab, which answers a ping; an edit is compiled again."""
    path = catalog_copy(tmp_path, "routed", "lean-up")
    first, heavy = _run("up", str(path))
    assert first.returncode == 0, first.stderr
    assert "pydantic" in heavy  # compiled: the cache had no entry for this file
    try:
        assert _run("down", "lean-up")[0].returncode == 0
        again, heavy = _run("up", str(path))
        assert again.returncode == 0, again.stderr
        assert set(heavy) <= {"netlab.pipeline", "netlab.model.resolved"}, heavy
        ping = netlab("exec", "lean-up", "client", "--", "ping", "-c1", "-W2", "10.0.2.10")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert _run("down", "lean-up")[0].returncode == 0
        path.write_text(path.read_text().replace("10.0.2.10/24", "10.0.2.20/24", 1))
        edited, heavy = _run("up", str(path))
        assert edited.returncode == 0, edited.stderr
        assert "pydantic" in heavy
        moved = netlab("exec", "lean-up", "server", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        assert "10.0.2.20/24" in moved.stdout, moved.stdout
    finally:
        netlab("down", "lean-up")
