"""The netlab pytest plugin (entry point ``pytest11``: ``netlab``): labs as fixtures, probes as asserts.

    def test_routed(netlab_lab):
        lab = netlab_lab("routed")                   # up now (fresh), down at teardown
        assert lab.probe("client-to-server").passed  # the failure shows expected vs observed

    def test_all_probes(netlab_lab):
        suite = netlab_lab("topologies/firewalled.yml").probes()
        assert suite.passed, "\\n".join(str(r) for r in suite.failed)

At teardown every lab the test brought up is taken down, and the test *errors* if anything of it is
left: a namespace carrying the lab's tag, its state file, or one of its service processes. A lab
that leaks is a bug worth a red test, in netlab or in the lab.

Labs need root; without it the fixture skips the test with a reason. ``--netlab-pcap DIR`` keeps
every probe's captures. This module imports nothing heavy until a fixture is used: pytest loads it
in every session of an environment where netlab is installed.

Parallel runs. Every kernel name and the state file of a lab derive from its name, so two processes
bringing up the same lab would tear down each other's. The fixture therefore renames the labs it
loads ``<name>-<suffix>`` (see ``Lab.load(name_suffix=...)``) when a suffix is set:

* under pytest-xdist, the worker id (``gw0``, ``gw1``, …, from ``PYTEST_XDIST_WORKER``): ``-n 4`` runs
  ``routed`` as ``routed-gw0`` … ``routed-gw3``, side by side;
* ``--netlab-suffix S`` (or ``netlab_suffix = S`` in the ini file): for separate pytest runs on one
  machine; with xdist too, the worker id follows (``routed-S-gw0``).

Without either the names stay as written. A test that names its lab (``netlab exec``, a state file)
uses ``lab.name``. The suffixed name must still be a lab name (at most 24 characters, lower case):
if not, loading fails with the usual validation error at the file's ``name:`` line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from netlab.api import Lab
    from netlab.probes.result import ProbeResult, SuiteResult
    from netlab.probes.runner import Progress as ProbeProgress
    from netlab.stages.record import LabState, StateStore

PROBES_RUN = pytest.StashKey[list["ProbeResult"]]()
"""Every probe result of the current test, for the report section of a failed test."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netlab", "netlab labs")
    group.addoption("--netlab-pcap", metavar="DIR", default=None,
                    help="keep the packet captures of every probe run through netlab_lab in DIR")
    group.addoption("--netlab-suffix", metavar="SUFFIX", default=None,
                    help="rename every lab netlab_lab brings up <name>-SUFFIX (default: the pytest-xdist worker "
                         "id, if any), so the same lab can be up in several pytest runs at once")
    parser.addini("netlab_suffix", default="", help="default for --netlab-suffix")


def name_suffix(config: pytest.Config) -> str | None:
    """The suffix of every lab name in this process: ``--netlab-suffix`` (else the ini's ``netlab_suffix``),
    then the xdist worker id, joined by ``-``; None when neither is set (names as written)."""
    given = config.getoption("--netlab-suffix", default=None) or str(config.getini("netlab_suffix") or "")
    parts = [part for part in (given, os.environ.get("PYTEST_XDIST_WORKER", "")) if part]
    return "-".join(parts) or None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """A failed test that ran probes gets a section listing their verdicts (expected vs observed)."""
    report = yield
    results = item.stash.get(PROBES_RUN, [])
    if call.when == "call" and getattr(report, "failed", False) and results:
        lines = [str(r) + "".join(f"\n    pcap: {p}" for p in r.pcaps) for r in results]
        report.sections.append(("netlab probes", "\n".join(lines)))  # type: ignore[attr-defined]
    return report


def leftovers(lab: str, state: LabState | None, store: StateStore) -> list[str]:
    """What lab ``lab`` left behind after ``down``: tagged namespaces, its state file, live services, and what
    features made outside the namespaces (node limits' cgroups)."""
    from netlab.stages.record import process_start_time
    from netlab.stages.teardown import tagged_namespaces

    found = [f"namespace {name}" for name, tag in tagged_namespaces() if tag.lab == lab]
    if store.path(lab).exists():
        found.append(f"state file {store.path(lab)}")
    for proc in state.processes if state is not None else ():
        if process_start_time(proc.pid) == proc.start_time and not _zombie(proc.pid):
            found.append(f"process {proc.pid} in {proc.node} ({proc.what})")
    from netlab.features.manifest import hooks

    for _, leftovers in hooks("leftovers"):  # what features make outside the namespaces (a cgroup)
        found += leftovers(lab)
    return found


def _zombie(pid: int) -> bool:
    """Killed but not yet reaped by its new parent (init): gone for every purpose that matters here."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.fixture
def netlab_lab(request: pytest.FixtureRequest) -> Iterator[Callable[[str | Path], Lab]]:
    """A factory: ``netlab_lab(catalog name or path)`` brings the lab up (fresh, even if it was up) and
    returns its :class:`netlab.Lab`; teardown takes it down and fails on anything left behind. The lab is
    named with this run's suffix, if any (see the module docstring): use ``lab.name``."""
    if os.geteuid() != 0:
        pytest.skip("netlab labs need root (network namespaces under /run/netns)")
    from netlab.api import Lab

    results: list[ProbeResult] = []
    request.node.stash[PROBES_RUN] = results

    class TrackedLab(Lab):
        """A Lab whose probe results are kept for the test's failure report."""

        def probes(self, only: Iterable[str] | None = None, pcap_dir: Path | None = None,
                   progress: ProbeProgress | None = None, record_path: bool = True) -> SuiteResult:
            suite = super().probes(only, pcap_dir, progress, record_path)
            results.extend(suite.results)
            return suite

    pcap = request.config.getoption("--netlab-pcap", default=None)
    pcap_dir = Path(pcap) / request.node.name if pcap else None
    suffix = name_suffix(request.config)
    labs: list[Lab] = []

    def bring_up(ref: str | Path) -> Lab:
        lab = TrackedLab.load(ref, name_suffix=suffix)
        lab.up(recreate=True)
        labs.append(lab)
        lab.pcap_dir = pcap_dir
        return lab

    yield bring_up

    problems = []
    for lab in reversed(labs):
        state = lab.store.read(lab.name)
        lab.down()
        problems += [f"lab {lab.name}: {item}" for item in leftovers(lab.name, state, lab.store)]
    if problems:
        pytest.fail("netlab labs left things behind after down:\n  " + "\n  ".join(problems), pytrace=False)
