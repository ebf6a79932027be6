"""The verbs as stage lists, top to bottom: build, up, down, clean. The API (netlab.api) and the CLI call these.

    build:   load → validate → resolve                          (pure; the plan is plan_stage.plan(resolved))
    compile: build → requirements + plan, as plain data (netlab.model.compiled), kept in a cache keyed by the
             text, path and netlab's code (netlab.stages.compile_cache): ``netlab up`` of an unchanged file
             skips every pure stage
    up:      check requirements → lock → journal → apply → record "up"
    down:   lock → read state → stop processes → remove what carries the lab's tag → forget
    clean:  lock → repair torn files → tear down crashed labs → remove tagged orphans

Why one module: before it, ``Lab.load``/``Lab.up`` composed the stages in api.py and teardown was split
between api.py and the apply stage; reading what ``up`` does meant reading three files. Features are not
named here: they plug into the stages (netlab.features.registry).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from netlab import catalog
from netlab.core import digest
from netlab.core.frozen import frozen
from netlab.errors import ApplyError, InvalidInput, MissingFeatures
from netlab.model.compiled import Compiled
from netlab.removal import CleanReport, clean, down, owned_by, remove_lab, require_root, root_command
from netlab.stages import compile_cache
from netlab.stages.apply import Applier, Progress
from netlab.stages.record import LabState, StateStore, new_run_id, new_state

if TYPE_CHECKING:
    from netlab.core.requirement import Requirement
    from netlab.model.plan import Plan
    from netlab.model.resolved import ResolvedLab
    from netlab.model.topology import Topology

__all__ = ["Built", "CleanReport", "Compiled", "UpResult", "build", "check_requirements", "clean", "compile",
           "compiled", "down", "require_root", "root_command", "up"]
# down, clean and their helpers live in netlab.removal: they read only state, and import no model or stage.
# The pure stages are imported where they run: `up` of a cached compile needs none of them (nor pydantic).


@frozen
class UpResult:
    lab: str
    created: bool
    """False when the lab was already up with the same topology (a no-op)."""
    namespaces: int
    actions: int
    seconds: float
    message: str



@frozen
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
        return digest.sha256(self.text.encode()).hexdigest()


def build(ref: str | Path, name_suffix: str | None = None) -> Built:
    """Load, validate and resolve a lab by catalog name or path. Raises :class:`InvalidInput` (every problem)."""
    from netlab.stages.load import load_file
    from netlab.stages.resolve import resolve
    from netlab.stages.validate import validate

    ref_s = str(ref)
    path = _find(ref_s)
    loaded = load_file(path, display=ref_s if catalog.looks_like_path(ref_s) else str(path))
    if name_suffix is not None:
        loaded = replace(loaded, data=_renamed(loaded.data, name_suffix))
    topo = validate(loaded)
    return Built(topo, resolve(topo, str(path.resolve()), loaded.lines), path, loaded.text)



def _find(ref: str) -> Path:
    path = catalog.find(ref)
    if path is None:
        known = ", ".join(catalog.names())
        raise InvalidInput(message=f"{ref}: no such lab file or catalog lab\n    hint: catalog labs: {known}")
    return path


def compile(built: Built) -> Compiled:
    """What ``up`` needs of a built lab: its requirements, resolved lab and plan."""
    from netlab import requirements
    from netlab.stages import plan as plan_stage

    return Compiled(built.name, built.sha256, tuple(requirements.derive(built.topology)), built.resolved,
                    plan_stage.plan(built.resolved))


def compiled(ref: str | Path, name_suffix: str | None = None, run_dir: Path | None = None) -> Compiled:
    """``compile(build(ref))``, or the cache's copy of it when the file, its path and netlab are unchanged.

    Raises :class:`InvalidInput` like :func:`build` (an invalid file is never cached, so its errors come every
    time)."""
    from netlab import paths

    ref_s = str(ref)
    path = _find(ref_s)
    source, root = path.resolve(), run_dir or paths.run_dir()
    text = _text(path)
    if text is not None:
        hit = compile_cache.read(root, source, name_suffix, text)
        if hit is not None:
            return hit
    built = build(ref_s, name_suffix)
    result = compile(built)
    compile_cache.write(root, source, name_suffix, result, built.text)
    return result


def _text(path: Path) -> str | None:
    """The file's text as load reads it (None where load would fail: it says why)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(catalog.MAX_FILE_BYTES + 1)
        return raw.decode("utf-8") if len(raw) <= catalog.MAX_FILE_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None


class Part(NamedTuple):
    """One host's part of a lab spread over hosts (netlab.multihost)."""

    host: str
    plan: Plan
    digest: str
    """Of the inventory's hosts: the same lab cut over other hosts is another version of it."""


def check_requirements(topology: Topology) -> None:
    """Raise :class:`MissingFeatures` (exit 4) if this kernel lacks something the lab needs."""
    from netlab import requirements

    _check(topology.name, requirements.derive(topology))


def _check(lab: str, needs: Iterable[Requirement]) -> None:
    from netlab import requirements

    gaps = requirements.missing(list(needs))
    if gaps:
        raise MissingFeatures(requirements.describe_missing(lab, gaps))


def up(lab: Compiled, store: StateStore, progress: Progress | None = None, recreate: bool = False,
       part: Part | None = None) -> UpResult:
    """Bring ``lab`` up; a no-op if it is up from the same text; ``recreate`` replaces one from another text.

    ``part``: this host's part when the lab is spread over hosts (netlab.multihost): only its plan is applied,
    the state records only its namespaces and the host, and its digest joins the topology's, so the same lab cut
    another way counts as another version."""
    import time

    require_root()
    _check(lab.name, lab.requirements)
    start = time.monotonic()
    sha256 = lab.sha256
    if part is not None:
        sha256 = digest.sha256(f"{lab.sha256}/{part.digest}/{part.host}".encode()).hexdigest()
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
        plan = lab.plan if part is None else part.plan
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
