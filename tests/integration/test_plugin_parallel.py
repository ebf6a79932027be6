"""The pytest plugin runs one catalog lab in two pytest processes at once, each under its own name suffix.

Two runs of the same test file start together: one with ``--netlab-suffix pa``, one as pytest-xdist
worker ``gw1`` would (``PYTEST_XDIST_WORKER``; xdist itself is not needed to show the plugin reads it).
Each brings ``routed`` up through ``netlab_lab``, waits until the other's lab is up too, runs every probe
while both labs exist, and waits again before its teardown takes its lab down -- so the two labs are
provably up side by side, both green, and both gone afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netlab.pytest_plugin import leftovers
from netlab.stages.record import StateStore
from tests.helpers import REPO

pytestmark = pytest.mark.root

NAMES = ("routed-pa", "routed-gw1")

INNER = '''
import os
import time
from pathlib import Path

SYNC = Path(os.environ["NETLAB_TEST_SYNC"])
NAMES = {names!r}


def wait_for(step: str) -> None:
    """Until both runs have reached ``step`` (a marker file each)."""
    deadline = time.monotonic() + 120
    while len(list(SYNC.glob(step + "-*"))) < len(NAMES):
        assert time.monotonic() < deadline, f"the other run never reached {{step}}"
        time.sleep(0.05)


def test_routed_beside_its_twin(netlab_lab):
    lab = netlab_lab("routed")
    assert lab.name == os.environ["NETLAB_TEST_EXPECT"]
    (SYNC / f"up-{{lab.name}}").touch()
    wait_for("up")
    for name in NAMES:  # both labs exist now, each in namespaces of its own
        assert sorted(p.name for p in Path("/run/netns").glob(f"nl-{{name}}.*")) == [
            f"nl-{{name}}.client", f"nl-{{name}}.router", f"nl-{{name}}.server"]
    suite = lab.probes()
    assert suite.passed, "\\n".join(str(r) for r in suite.failed)
    assert len(suite.results) >= 5
    (SYNC / f"probed-{{lab.name}}").touch()
    wait_for("probed")  # the other lab's probes ran while this one was up
'''


def netns_list() -> list[str]:
    return sorted(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
                  .splitlines())


def test_one_catalog_lab_runs_twice_at_once_under_two_suffixes(tmp_path: Path) -> None:
    (tmp_path / "test_twin.py").write_text(INNER.format(names=NAMES))
    sync = tmp_path / "sync"
    sync.mkdir()
    before = netns_list()
    base = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}  # this run may be a worker itself
    base |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(REPO), "NETLAB_TEST_SYNC": str(sync)}
    argv = [sys.executable, "-m", "pytest", "-p", "netlab.pytest_plugin", "-p", "no:cacheprovider", "-q",
            "test_twin.py"]
    runs = [subprocess.Popen([*argv, "--netlab-suffix", "pa"], env={**base, "NETLAB_TEST_EXPECT": "routed-pa"},
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            subprocess.Popen(argv, env={**base, "PYTEST_XDIST_WORKER": "gw1", "NETLAB_TEST_EXPECT": "routed-gw1"},
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    try:
        outputs = [run.communicate(timeout=300)[0] for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    for name, run, out in zip(NAMES, runs, outputs, strict=True):
        assert run.returncode == 0, f"{name}:\n{out}"
        assert "1 passed" in out and "left things behind" not in out, f"{name}:\n{out}"
        assert leftovers(name, None, StateStore()) == []
    assert sorted(p.name for p in sync.iterdir()) == sorted(f"{step}-{n}" for step in ("up", "probed") for n in NAMES)
    assert netns_list() == before, "namespaces left behind"
