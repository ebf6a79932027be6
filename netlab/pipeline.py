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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from netlab import catalog
from netlab.errors import ApplyError, InvalidInput, MissingFeatures
from netlab.model.plan import Plan
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology
from netlab.removal import CleanReport, clean, down, owned_by, remove_lab, require_root, root_command
from netlab.stages import plan as plan_stage
from netlab.stages.apply import Applier, Progress
from netlab.stages.load import load_file
from netlab.stages.record import LabState, StateStore, new_run_id, new_state
from netlab.stages.resolve import resolve
from netlab.stages.validate import validate

__all__ = ["Built", "CleanReport", "UpResult", "build", "check_requirements", "clean", "down", "require_root",
           "root_command", "up"]
# down, clean and their helpers live in netlab.removal: they read only state, and import no model or stage


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
            gone = [ns.name for ns in current.namespaces if not owned_by(current, ns.name)]
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
            remove_lab(store, current)
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
