"""``down`` and ``clean``: remove what a lab made, from its recorded state alone.

Why apart from :mod:`netlab.pipeline`: these commands read state and talk to the kernel, and nothing more;
they import no topology model, no stage and no feature table (a feature's teardown hook comes from
:mod:`netlab.features.manifest`), so ``netlab down`` costs the interpreter and its kernel work, not the
≈ 0.3 s of importing pydantic and every feature's models.
"""

from __future__ import annotations

import os

from netlab.core.frozen import frozen
from netlab.errors import NotPermitted
from netlab.features.manifest import hooks
from netlab.kernel.netns import is_mounted_netns, netns_path
from netlab.stages.record import LabHead, StateStore, netns_inode, process_start_time
from netlab.stages.teardown import (
    kill_processes,
    pids_in_namespaces,
    read_namespace_tag,
    remove_namespaces,
    tagged_namespaces,
)

__all__ = ["CleanReport", "clean", "down", "require_root", "root_command"]


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


def owned_by(state: LabHead, name: str) -> bool:
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


def remove_lab(store: StateStore, state: LabHead) -> list[str]:
    """Remove what ``state`` records (and only what still carries its tag), then the state file.

    A recorded service is stopped only if it is still the process that was started (same start time: a
    recycled pid is never hit) *and* it lives in one of this lab's namespaces -- or in the very namespace it
    was started in, when that one was removed behind netlab's back and lives on unnamed (its inode was
    recorded); removing the namespaces then kills every process still inside them. Namespace names were
    recomputed when the state was read.
    """
    ours = [ns.name for ns in state.namespaces if owned_by(state, ns.name)]
    inside = {pid for group in pids_in_namespaces(ours).values() for pid in group}
    kill_processes([p.pid for p in state.processes if process_start_time(p.pid) == p.start_time and (
        p.pid in inside or (p.netns_inode and netns_inode(p.pid) == p.netns_inode))])
    removed = remove_namespaces(ours)
    for _, teardown in hooks("teardown"):  # what a feature made outside the namespaces (a cgroup), by recomputed names
        teardown(state.lab, state.run)
    store.remove(state.lab)
    return removed


def down(lab: str, store: StateStore | None = None) -> list[str]:
    """Remove everything lab ``lab`` made, from its state alone. Idempotent: a lab that is not up is
    not an error for ``down`` (returns ``[]``)."""
    require_root()
    store = store or StateStore()
    with store.locked():
        state = store.read_head(lab)  # the head alone: no model imported; a damaged resolved part does not stop it
        if state is None:
            return []
        return remove_lab(store, state)



@frozen
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
    (e.g. the state file was deleted). The compiled-lab cache (netlab.stages.compile_cache) is emptied too.
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
        live: dict[str, LabHead] = {}
        for state in store.all():
            if state.live and not all_labs:
                live[state.lab] = state
                continue
            labs.append(state.lab)
            removed += remove_lab(store, state)
        orphans: list[str] = []
        for name, tag in tagged_namespaces():
            owner = live.get(tag.lab)
            if owner is None or owner.run != tag.run:
                orphans.append(name)
                if tag.lab not in labs:
                    labs.append(tag.lab)
        removed += remove_namespaces(orphans)
        for _, feature_clean in hooks("clean"):
            repaired += feature_clean({lab: s.run for lab, s in live.items()})
        from netlab.stages import compile_cache

        compile_cache.clear(store.root)  # not reported: a cache, not something a crash left behind
    return CleanReport(tuple(labs), tuple(removed), tuple(repaired))
