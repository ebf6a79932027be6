"""The verbs as stage lists, top to bottom: build, up, down, clean. The API (netlab.api) and the CLI call these.

    build:  load → validate → resolve                          (pure; the plan is plan_stage.plan(resolved))
    up:     requirements → lock → journal → plan → apply → record "up"
    down:   lock → read state → stop processes → remove what carries the lab's tag → forget
    clean:  lock → repair torn files → tear down crashed labs → remove tagged orphans

Why one module: before it, ``Lab.load``/``Lab.up`` composed the stages in api.py and teardown was split
between api.py and the apply stage; reading what ``up`` does meant reading three files. Features are not
named here: they plug into the stages (netlab.features.registry).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from netlab import catalog
from netlab.errors import ApplyError, InvalidInput, MissingFeatures, NotPermitted
from netlab.features.base import load_hook
from netlab.features.registry import FEATURES
from netlab.kernel.netns import is_mounted_netns, netns_path
from netlab.model.plan import Plan
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology
from netlab.stages import plan as plan_stage
from netlab.stages.apply import Applier, Progress
from netlab.stages.load import load_file
from netlab.stages.record import LabState, StateStore, netns_inode, new_run_id, new_state, process_start_time
from netlab.stages.resolve import resolve
from netlab.stages.teardown import (
    kill_processes,
    pids_in_namespaces,
    read_namespace_tag,
    remove_namespaces,
    tagged_namespaces,
)
from netlab.stages.validate import validate

__all__ = ["Built", "CleanReport", "UpResult", "build", "check_requirements", "clean", "down", "require_root",
           "root_command", "up"]


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



@dataclass(frozen=True)
class Built:
    """A lab after the pure stages: what ``up`` needs, and what ``--dry-run`` prints the plan of."""

    topology: Topology
    resolved: ResolvedLab
    path: Path
    text: str

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def sha256(self) -> str:
        """Of the file's text: ``up`` of a lab already up from the same text is a no-op."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def build(ref: str | Path, name_suffix: str | None = None) -> Built:
    """Load, validate and resolve a lab by catalog name or path. Raises :class:`InvalidInput` (every problem)."""
    ref_s = str(ref)
    path = catalog.find(ref_s)
    if path is None:
        known = ", ".join(catalog.names())
        raise InvalidInput(message=f"{ref_s}: no such lab file or catalog lab\n    hint: catalog labs: {known}")
    loaded = load_file(path, display=ref_s if catalog.looks_like_path(ref_s) else str(path))
    if name_suffix is not None:
        loaded = replace(loaded, data=_renamed(loaded.data, name_suffix))
    topo = validate(loaded)
    return Built(topo, resolve(topo, str(path.resolve()), loaded.lines), path, loaded.text)




class Part(NamedTuple):
    """One host's part of a lab spread over hosts (netlab.multihost)."""

    host: str
    plan: Plan
    digest: str
    """Of the inventory's hosts: the same lab cut over other hosts is another version of it."""


def check_requirements(topology: Topology) -> None:
    """Raise :class:`MissingFeatures` (exit 4) if this kernel lacks something the lab needs."""
    from netlab import requirements

    gaps = requirements.missing(topology)
    if gaps:
        raise MissingFeatures(requirements.describe_missing(topology.name, gaps))


def up(lab: Built, store: StateStore, progress: Progress | None = None, recreate: bool = False,
       part: Part | None = None) -> UpResult:
    """Bring ``lab`` up; a no-op if it is up from the same text; ``recreate`` replaces one from another text.

    ``part``: this host's part when the lab is spread over hosts (netlab.multihost): only its plan is applied,
    the state records only its namespaces and the host, and its digest joins the topology's, so the same lab cut
    another way counts as another version."""
    import time

    require_root()
    check_requirements(lab.topology)
    start = time.monotonic()
    sha256 = lab.sha256
    if part is not None:
        sha256 = hashlib.sha256(f"{lab.sha256}/{part.digest}/{part.host}".encode()).hexdigest()
    with store.locked():
        current = store.read(lab.name)
        if current is not None and current.live and not recreate:
            gone = [ns.name for ns in current.namespaces if not _owned(current, ns.name)]
            if gone:
                raise ApplyError(
                    f"lab {lab.name} is recorded as up, but {len(gone)} of its namespaces are gone or no "
                    f"longer carry its tag ({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}): "
                    "something removed them behind netlab's back\n"
                    f"    hint: `netlab up --recreate {lab.name}` rebuilds it")
            if current.topology_sha256 == sha256:
                return UpResult(lab.name, False, len(current.namespaces), 0, 0.0,
                                f"lab {lab.name} is already up (same topology); nothing to do")
            else:
                raise ApplyError(
                    f"lab {lab.name} is already up from a different version of its topology\n"
                    f"    hint: `netlab up --recreate {lab.name}` tears it down and brings the new one "
                    f"up, or `netlab down {lab.name}` first")
        if current is not None:
            _teardown(store, current)
        plan = plan_stage.plan(lab.resolved) if part is None else part.plan
        state = new_state(lab.resolved, sha256, new_run_id())
        if part is not None:
            state = replace(state, namespaces=tuple(ns for ns in state.namespaces if ns.name in plan.namespaces),
                            host=part.host)
        store.write(state)  # the journal: written before anything exists
        applier = Applier(plan, state.run, progress, log_dir=store.log_dir(lab.name))
        try:
            applier.apply()
        except BaseException:
            store.remove(lab.name)  # apply removed what it made
            raise
        store.write(replace(_with_status(state, "up"), processes=tuple(applier.processes)))
    return UpResult(lab.name, True, len(plan.namespaces), len(plan.actions), time.monotonic() - start,
                    f"lab {lab.name} is up: {len(plan.namespaces)} namespaces, {len(plan.actions)} actions")




def _renamed(data: object, suffix: str) -> object:
    """Loaded ``data`` with its lab named ``<name>-<suffix>``. Data without a text ``name:`` is left as it
    is: validate says what is wrong with it, and a suffix cannot make that right."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return data
    return {**data, "name": f"{data['name']}-{suffix}"}


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
    recycled pid is never hit) *and* it lives in one of this lab's namespaces -- or in the very namespace it
    was started in, when that one was removed behind netlab's back and lives on unnamed (its inode was
    recorded); removing the namespaces then kills every process still inside them. Namespace names were
    recomputed when the state was read.
    """
    ours = [ns.name for ns in state.namespaces if _owned(state, ns.name)]
    inside = {pid for group in pids_in_namespaces(ours).values() for pid in group}
    kill_processes([p.pid for p in state.processes if process_start_time(p.pid) == p.start_time and (
        p.pid in inside or (p.netns_inode and netns_inode(p.pid) == p.netns_inode))])
    removed = remove_namespaces(ours)
    for feature in FEATURES:  # what a feature made outside the namespaces (a cgroup), by recomputed names
        if feature.teardown is not None:
            load_hook(feature.teardown)(state.lab, state.run)
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



@dataclass(frozen=True)
class CleanReport:
    labs: tuple[str, ...]
    """Labs whose state was stale (crashed up) or, with ``all_labs``, live."""
    namespaces: tuple[str, ...]
    """Namespaces removed."""
    files: tuple[str, ...] = ()
    """Damaged state files, stale temporary files, and features' leftovers outside the namespaces (cgroups) removed."""


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
        for feature in FEATURES:
            if feature.clean is not None:
                repaired += load_hook(feature.clean)({lab: s.run for lab, s in live.items()})
    return CleanReport(tuple(labs), tuple(removed), tuple(repaired))


