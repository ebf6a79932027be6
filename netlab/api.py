"""The Python API: what the CLI does, as objects.

    from netlab import Lab

    lab = Lab.load("routed")          # catalog name or path; validates, raises InvalidInput
    print(lab.plan().to_json())       # what up would do
    lab.up()
    print(lab.exec("client", ["ping", "-c1", "10.0.2.10"]).stdout)
    lab.down()

A ``Lab`` is a validated, resolved topology. Operations that touch the kernel need root.
``down``, ``status`` and ``clean`` work from the recorded state alone, so they are also module
functions that take a lab *name* (the file may have changed or gone since ``up``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from netlab.errors import ApplyError, InvalidInput, LabNotUp, MissingTool
from netlab.kernel.netns import netns_path
from netlab.removal import CleanReport, clean, down, require_root, root_command
from netlab.stages.record import StateStore

__all__ = ["PATH_FILE", "CleanReport", "Lab", "UpResult", "clean", "down", "exec_in", "flow_samples", "live_labs",
           "observed_path", "require_root", "root_command", "run_probes", "state_of", "up"]

PATH_FILE = "path.json"
"""In ``<run dir>/logs/<lab>/``: the packets' path of the lab's last probe run (``netlab graph --path``)."""

if TYPE_CHECKING:  # the stages and models are imported where they are used: down, status, exec need none
    import subprocess

    from netlab import pipeline
    from netlab.model.plan import Plan
    from netlab.model.resolved import ResolvedLab
    from netlab.model.topology import Topology
    from netlab.pipeline import UpResult
    from netlab.probes.path import PathRecord
    from netlab.probes.result import ProbeResult, SuiteResult
    from netlab.probes.runner import Progress as ProbeProgress
    from netlab.stages.apply import Progress
    from netlab.stages.record import LabState
    from netlab.views.plot import FlowPlot


def __getattr__(name: str) -> object:
    """``netlab.api.UpResult``, imported with the pipeline only when asked for."""
    if name == "UpResult":
        from netlab.pipeline import UpResult

        return UpResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Lab:
    """A validated and resolved lab topology, ready to plan or bring up."""

    def __init__(self, topology: Topology, resolved: ResolvedLab, path: Path, text: str,
                 store: StateStore | None = None) -> None:
        self.topology = topology
        self.resolved = resolved
        self.path = path
        self.text = text
        from netlab.core.digest import sha256  # here: down, status and exec import this module and need no hash

        self.sha256 = sha256(text.encode()).hexdigest()
        self.store = store or StateStore()
        self.pcap_dir: Path | None = None
        """Default directory for every probe's captures (failed probes' captures are always kept)."""

    @property
    def name(self) -> str:
        return self.resolved.name

    @classmethod
    def load(cls, ref: str | Path, store: StateStore | None = None, *, name_suffix: str | None = None) -> Lab:
        """Load, validate and resolve a lab by catalog name or path. Raises :class:`InvalidInput`.

        ``name_suffix`` renames the lab ``<name>-<suffix>``: every kernel name and the state file derive from
        the lab name, so the same file can be up twice at once (two pytest-xdist workers running one catalog
        lab). The rename happens before validate, so the new name passes the same checks as a written one
        (:data:`netlab.naming.LAB_NAME`: at most 24 characters) or fails with the same error, at the file's
        ``name:`` line.
        """
        from netlab import pipeline

        built = pipeline.build(ref, name_suffix)
        return cls(built.topology, built.resolved, built.path, built.text, store)

    def plan(self) -> Plan:
        from netlab.stages import plan as plan_stage

        return plan_stage.plan(self.resolved)

    def check_requirements(self) -> None:
        """Raise :class:`MissingFeatures` (exit 4) if this kernel lacks something the lab needs."""
        from netlab import pipeline

        pipeline.check_requirements(self.topology)

    def up(self, progress: Progress | None = None, recreate: bool = False,
           part: pipeline.Part | None = None) -> UpResult:
        """Bring the lab up. If it is already up from the same file content, do nothing and say so.

        If it is up from a different content, raise unless ``recreate`` (then down, then up). Before
        anything is created, every kernel feature the lab needs is checked for real.
        """
        from netlab import pipeline

        built = pipeline.Built(self.topology, self.resolved, self.path, self.text)
        return pipeline.up(pipeline.compile(built), self.store, progress, recreate, part)

    def down(self) -> list[str]:
        return down(self.name, self.store)

    def exec(self, node: str, argv: list[str], capture: bool = True) -> subprocess.CompletedProcess[str]:
        return exec_in(self.name, node, argv, capture=capture, store=self.store)

    def probes(self, only: Iterable[str] | None = None, pcap_dir: Path | None = None,
               progress: ProbeProgress | None = None, record_path: bool = True) -> SuiteResult:
        """Run the lab's probes (all, or ``only`` these names) against the lab as it was brought up."""
        return run_probes(self.name, only, pcap_dir or self.pcap_dir, self.store, progress, record_path)

    def probe(self, name: str, pcap_dir: Path | None = None) -> ProbeResult:
        """Run one probe: ``assert lab.probe("client-ping").passed`` (its ``verdict`` says why not)."""
        return self.probes([name], pcap_dir).results[0]


def run_probes(lab: str, only: Iterable[str] | None = None, pcap_dir: Path | None = None,
               store: StateStore | None = None, progress: ProbeProgress | None = None,
               record_path: bool = True) -> SuiteResult:
    """Run the probes of lab ``lab`` (which must be up) from its recorded state.

    ``pcap_dir``: write every probe's captures there; failed probes' captures are always written, to
    ``/run/netlab/logs/<lab>/pcap`` when no directory is given. The path the traffic probes' packets took
    replaces ``/run/netlab/logs/<lab>/path.json`` (:func:`observed_path`) unless ``record_path`` is False.
    Raises LabNotUp, InvalidInput (unknown ``only`` name).
    """
    import datetime

    from netlab import paths
    from netlab.probes.context import LabView
    from netlab.probes.path import PathRecord
    from netlab.probes.runner import ProbeRunner
    from netlab.views import plot

    require_root()
    store = store or StateStore()
    state = state_of(lab, store)
    here, elsewhere = None, None
    if state.host is not None:  # one host's part of a lab spread over hosts (netlab.multihost)
        from netlab.multihost.elsewhere import waiter

        here, elsewhere = frozenset(ns.name for ns in state.namespaces), waiter(lab, store)
    runner = ProbeRunner(LabView.from_resolved(state.resolved, here), pcap_dir, store.log_dir(lab) / "pcap",
                         record_path, elsewhere)
    suite = runner.run(only, progress)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if suite.paths:
        paths.write_file(store.log_dir(lab) / PATH_FILE, PathRecord(lab, now, suite.paths).to_json())
    flows = plot.record(lab, now, suite.results)
    if flows is not None:
        paths.write_file(store.log_dir(lab) / plot.FLOWS_FILE, json.dumps(flows) + "\n")
    return suite


def _last_run_record(lab: str, name: str, store: StateStore | None, file: Path | None) -> tuple[str | None, str]:
    """(text or None when there is none, where it was read) of ``<run dir>/logs/<lab>/<name>`` -- read as every
    run-directory file is (no symlink, written by root) -- or of ``file``, a copy the user names."""
    from netlab import paths
    from netlab.naming import checked_lab_name

    if file is not None:
        try:
            return file.read_text(encoding="utf-8"), str(file)
        except OSError as exc:
            raise InvalidInput(message=f"cannot read {file}: {exc.strerror}") from None
    path = (store or StateStore()).logs_dir / checked_lab_name(lab) / name
    return paths.read_file(path), str(path)


def flow_samples(lab: str, store: StateStore | None = None, file: Path | None = None) -> list[FlowPlot]:
    """The flow probes' samples of ``lab``'s last probe run (or of ``file``: that record copied out of
    ``netlab vm``, or ``netlab probe --json`` output). Read like :func:`observed_path`; raises InvalidInput."""
    from netlab.views import plot

    text, where = _last_run_record(lab, plot.FLOWS_FILE, store, file)
    if text is None:
        raise InvalidInput(message=f"no flow samples of lab {lab} ({where} does not exist)\n    hint: run its "
                                   f"probes first: netlab run {lab} (or netlab probe {lab})")
    return plot.parse(text, where)


def observed_path(lab: str, store: StateStore | None = None, file: Path | None = None) -> PathRecord:
    """The path record of ``lab``'s last probe run (or of ``file``, e.g. one copied out of ``netlab vm``).

    Reading needs no root: the record is world-readable, and it is checked like every run-directory file
    (no symlink, written by root). Raises InvalidInput when there is none, or it is not a record.
    """
    from netlab.probes.path import PathRecord

    text, where = _last_run_record(lab, PATH_FILE, store, file)
    if text is None:
        raise InvalidInput(message=f"no observed path of lab {lab} ({where} does not exist)\n    hint: run its "
                                   f"probes first: netlab probe {lab} (or netlab run {lab} --keep)")
    try:
        return PathRecord.from_json(text)
    except ValueError as exc:
        raise InvalidInput(message=f"{where}: {exc}") from None


def up(ref: str | Path, store: StateStore | None = None, progress: Progress | None = None,
       recreate: bool = False) -> UpResult:
    """``Lab.load(ref).up()`` without the ``Lab``: what ``netlab up`` does. An unchanged file brought up before is
    not loaded, validated, resolved or planned again (netlab.stages.compile_cache); raises like both."""
    from netlab import pipeline

    store = store or StateStore()
    return pipeline.up(pipeline.compiled(ref, run_dir=store.root), store, progress, recreate)


def state_of(lab: str, store: StateStore | None = None) -> LabState:
    store = store or StateStore()
    state = store.read(lab)
    if state is None or not state.live:
        raise LabNotUp(f"lab {lab} is not up\n    hint: `netlab status` lists the labs that are up")
    return state


def exec_in(lab: str, node: str, argv: list[str], capture: bool = True,
            store: StateStore | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a node of a lab that is up."""
    require_root()
    state = state_of(lab, store)
    netns = next((ns.name for ns in state.namespaces if ns.owner == node and ns.kind == "node"), None)
    if netns is None:
        nodes = ", ".join(ns.owner for ns in state.namespaces if ns.kind == "node")
        raise InvalidInput(message=f"lab {lab} has no node {node!r}\n    hint: its nodes: {nodes}")
    fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        from netlab.kernel.nodeinit import run_in_netns

        return run_in_netns(fd, argv, capture=capture)
    except FileNotFoundError:
        from netlab.kernel.tools import install_hint

        raise MissingTool(f"`{argv[0]}` is not installed (or not on PATH) on this machine\n"
                          f"    hint: {install_hint(argv[0])}") from None
    except PermissionError as exc:
        raise ApplyError(f"cannot run `{argv[0]}`: {exc.strerror}") from None
    finally:
        os.close(fd)


def live_labs(store: StateStore | None = None) -> list[LabState]:
    return [s for s in (store or StateStore()).all() if s.live]
