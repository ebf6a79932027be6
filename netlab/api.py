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

import hashlib
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from netlab import catalog
from netlab.errors import ApplyError, InvalidInput, LabNotUp, MissingFeatures, MissingTool, NotPermitted
from netlab.kernel.netns import is_mounted_netns, netns_path
from netlab.model.plan import Plan
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology
from netlab.stages import plan as plan_stage
from netlab.stages.apply import (
    Applier,
    Progress,
    kill_processes,
    pids_in_namespaces,
    read_namespace_tag,
    remove_namespaces,
    run_in_netns,
    tagged_namespaces,
)
from netlab.stages.load import load_file
from netlab.stages.record import LabState, StateStore, new_run_id, new_state, process_start_time
from netlab.stages.resolve import resolve
from netlab.stages.validate import validate

if TYPE_CHECKING:
    from netlab.probes.result import ProbeResult, SuiteResult
    from netlab.probes.runner import Progress as ProbeProgress


def require_root() -> None:
    if os.geteuid() != 0:
        raise NotPermitted(
            "netlab needs root: it creates network namespaces and mounts them under /run/netns "
            "(CAP_SYS_ADMIN) and configures interfaces, addresses and routes in them (CAP_NET_ADMIN).\n"
            f"    hint: run it as root, e.g. {root_command()}")


def root_command() -> str:
    """The command line that reruns this command as root and really finds netlab: ``sudo`` resets PATH
    (secure_path), so a netlab installed in a venv is ``command not found`` under a plain ``sudo netlab``."""
    import shlex
    import shutil
    import sys

    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    exe = shutil.which("netlab")
    if exe and os.path.dirname(exe) in ("/usr/bin", "/usr/local/bin", "/bin"):
        return f"sudo netlab {args}".rstrip()
    target = shlex.quote(exe) if exe else f"{shlex.quote(sys.executable)} -m netlab"
    return f"sudo {target} {args}".rstrip()


@dataclass(frozen=True)
class UpResult:
    lab: str
    created: bool
    """False when the lab was already up with the same topology (a no-op)."""
    namespaces: int
    actions: int
    seconds: float
    message: str


class Lab:
    """A validated and resolved lab topology, ready to plan or bring up."""

    def __init__(self, topology: Topology, resolved: ResolvedLab, path: Path, text: str,
                 store: StateStore | None = None) -> None:
        self.topology = topology
        self.resolved = resolved
        self.path = path
        self.sha256 = hashlib.sha256(text.encode()).hexdigest()
        self.store = store or StateStore()
        self.pcap_dir: Path | None = None
        """Default directory for every probe's captures (failed probes' captures are always kept)."""

    @property
    def name(self) -> str:
        return self.resolved.name

    @classmethod
    def load(cls, ref: str | Path, store: StateStore | None = None) -> Lab:
        """Load, validate and resolve a lab by catalog name or path. Raises :class:`InvalidInput`."""
        ref_s = str(ref)
        path = catalog.find(ref_s)
        if path is None:
            known = ", ".join(catalog.names())
            raise InvalidInput(message=f"{ref_s}: no such lab file or catalog lab\n    hint: catalog labs: {known}")
        loaded = load_file(path, display=ref_s if catalog.looks_like_path(ref_s) else str(path))
        topo = validate(loaded)
        return cls(topo, resolve(topo, str(path.resolve()), loaded.lines), path, loaded.text, store)

    def plan(self) -> Plan:
        return plan_stage.plan(self.resolved)

    def check_requirements(self) -> None:
        """Raise :class:`MissingFeatures` (exit 4) if this kernel lacks something the lab needs."""
        from netlab import requirements

        gaps = requirements.missing(self.topology)
        if gaps:
            raise MissingFeatures(requirements.describe_missing(self.name, gaps))

    def up(self, progress: Progress | None = None, recreate: bool = False) -> UpResult:
        """Bring the lab up. If it is already up from the same file content, do nothing and say so.

        If it is up from a different content, raise unless ``recreate`` (then down, then up). Before
        anything is created, every kernel feature the lab needs is checked for real.
        """
        import time

        require_root()
        self.check_requirements()
        start = time.monotonic()
        with self.store.locked():
            current = self.store.read(self.name)
            if current is not None and current.live and not recreate:
                gone = [ns.name for ns in current.namespaces if not _owned(current, ns.name)]
                if gone:
                    raise ApplyError(
                        f"lab {self.name} is recorded as up, but {len(gone)} of its namespaces are gone or no "
                        f"longer carry its tag ({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}): "
                        "something removed them behind netlab's back\n"
                        f"    hint: `netlab up --recreate {self.name}` rebuilds it")
                if current.topology_sha256 == self.sha256:
                    return UpResult(self.name, False, len(current.namespaces), 0, 0.0,
                                    f"lab {self.name} is already up (same topology); nothing to do")
                else:
                    raise ApplyError(
                        f"lab {self.name} is already up from a different version of its topology\n"
                        f"    hint: `netlab up --recreate {self.name}` tears it down and brings the new one "
                        f"up, or `netlab down {self.name}` first")
            if current is not None:
                _teardown(self.store, current)
            plan = self.plan()
            state = new_state(self.resolved, self.sha256, new_run_id())
            self.store.write(state)  # the journal: written before anything exists
            applier = Applier(plan, state.run, progress, log_dir=self.store.log_dir(self.name))
            try:
                applier.apply()
            except BaseException:
                self.store.remove(self.name)  # apply removed what it made
                raise
            self.store.write(replace(_with_status(state, "up"), processes=tuple(applier.processes)))
        return UpResult(self.name, True, len(plan.namespaces), len(plan.actions), time.monotonic() - start,
                        f"lab {self.name} is up: {len(plan.namespaces)} namespaces, {len(plan.actions)} actions")

    def down(self) -> list[str]:
        return down(self.name, self.store)

    def exec(self, node: str, argv: list[str], capture: bool = True) -> subprocess.CompletedProcess[str]:
        return exec_in(self.name, node, argv, capture=capture, store=self.store)

    def probes(self, only: Iterable[str] | None = None, pcap_dir: Path | None = None,
               progress: ProbeProgress | None = None) -> SuiteResult:
        """Run the lab's probes (all, or ``only`` these names) against the lab as it was brought up."""
        return run_probes(self.name, only, pcap_dir or self.pcap_dir, self.store, progress)

    def probe(self, name: str, pcap_dir: Path | None = None) -> ProbeResult:
        """Run one probe: ``assert lab.probe("client-ping").passed`` (its ``verdict`` says why not)."""
        return self.probes([name], pcap_dir).results[0]


def _with_status(state: LabState, status: str) -> LabState:
    return replace(state, status=status)  # type: ignore[arg-type]


def _owned(state: LabState, name: str) -> bool:
    """A recorded namespace is removed only if its tag says it is this lab's, this run's — or if it
    has no tag at all but is a leftover empty file the journal lists (killed between create and mount)."""
    tag = read_namespace_tag(name)
    if tag is not None:
        return tag.lab == state.lab and tag.run == state.run
    path = netns_path(name)
    try:
        return not path.is_symlink() and path.stat().st_size == 0 and not is_mounted_netns(path)
    except FileNotFoundError:
        return False


def _teardown(store: StateStore, state: LabState) -> list[str]:
    """Remove what ``state`` records (and only what still carries its tag), then the state file.

    A recorded service is stopped only if it is still the process that was started (same start time: a
    recycled pid is never hit) *and* it lives in one of this lab's namespaces; removing the namespaces
    then kills every process still inside them. Namespace names were recomputed when the state was read.
    """
    ours = [ns.name for ns in state.namespaces if _owned(state, ns.name)]
    inside = {pid for group in pids_in_namespaces(ours).values() for pid in group}
    kill_processes([p.pid for p in state.processes
                    if p.pid in inside and process_start_time(p.pid) == p.start_time])
    removed = remove_namespaces(ours)
    store.remove(state.lab)
    return removed


def down(lab: str, store: StateStore | None = None) -> list[str]:
    """Remove everything lab ``lab`` made, from its state alone. Idempotent: a lab that is not up is
    not an error for ``down`` (returns ``[]``)."""
    require_root()
    store = store or StateStore()
    with store.locked():
        state = store.read(lab)
        if state is None:
            return []
        return _teardown(store, state)


def run_probes(lab: str, only: Iterable[str] | None = None, pcap_dir: Path | None = None,
               store: StateStore | None = None, progress: ProbeProgress | None = None) -> SuiteResult:
    """Run the probes of lab ``lab`` (which must be up) from its recorded state.

    ``pcap_dir``: write every probe's captures there; failed probes' captures are always written, to
    ``/run/netlab/logs/<lab>/pcap`` when no directory is given. Raises LabNotUp, InvalidInput (unknown
    ``only`` name).
    """
    from netlab.probes.context import LabView
    from netlab.probes.runner import ProbeRunner

    require_root()
    store = store or StateStore()
    state = state_of(lab, store)
    runner = ProbeRunner(LabView.from_resolved(state.resolved), pcap_dir, store.log_dir(lab) / "pcap")
    return runner.run(only, progress)


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
        return run_in_netns(fd, argv, capture=capture)
    except FileNotFoundError:
        from netlab.kernel.tools import install_hint

        raise MissingTool(f"`{argv[0]}` is not installed (or not on PATH) on this machine\n"
                          f"    hint: {install_hint(argv[0])}") from None
    except PermissionError as exc:
        raise ApplyError(f"cannot run `{argv[0]}`: {exc.strerror}") from None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class CleanReport:
    labs: tuple[str, ...]
    """Labs whose state was stale (crashed up) or, with ``all_labs``, live."""
    namespaces: tuple[str, ...]
    """Namespaces removed."""
    files: tuple[str, ...] = ()
    """Damaged state files and stale temporary files removed."""


def clean(all_labs: bool = False, store: StateStore | None = None) -> CleanReport:
    """Remove what netlab made that no live lab owns; with ``all_labs``, every lab.

    Two sources, neither a name pattern: state files whose ``up`` died (owner process gone before
    ``status: up``), and namespaces whose ``lo`` carries a netlab tag that no live state matches
    (e.g. the state file was deleted).
    """
    require_root()
    store = store or StateStore()
    labs: list[str] = []
    removed: list[str] = []
    repaired: list[str] = []
    with store.locked():
        # a state file torn by a crash (or not netlab's): removed; its namespaces go with the orphans below
        for lab in store.torn():
            repaired.append(str(store.path(lab)))
            store.remove(lab)
            labs.append(lab)
        for tmp in store.stale_temp_files():  # kill -9 between writing a state and renaming it
            tmp.unlink(missing_ok=True)
            repaired.append(str(tmp))
        live: dict[str, LabState] = {}
        for state in store.all():
            if state.live and not all_labs:
                live[state.lab] = state
                continue
            labs.append(state.lab)
            removed += _teardown(store, state)
        orphans: list[str] = []
        for name, tag in tagged_namespaces():
            owner = live.get(tag.lab)
            if owner is None or owner.run != tag.run:
                orphans.append(name)
                if tag.lab not in labs:
                    labs.append(tag.lab)
        removed += remove_namespaces(orphans)
    return CleanReport(tuple(labs), tuple(removed), tuple(repaired))


def live_labs(store: StateStore | None = None) -> list[LabState]:
    return [s for s in (store or StateStore()).all() if s.live]
