"""cgroup v2 for a node's services: made by apply, removed by ``down`` and ``clean`` by recomputed names.

Where: ``<cgroup2 mount>/netlab/<lab>.<run>/<node>``. A cgroup is outside every namespace, so nothing tags it
the way ``lo``'s alias tags a namespace; its name does, and only root can create one under the hierarchy's root.
``down`` removes ``<lab>.<run>`` of the state it reads (both validated, the path rebuilt here); ``clean`` removes
every ``<lab>.<run>`` whose lab is not live with that run (an ``up`` killed with -9 leaves one behind).
Controllers are enabled top-down (``+cpu`` in each parent's ``cgroup.subtree_control``), as the v2 rules ask:
a cgroup can only use what its parent hands down.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from netlab.errors import ApplyError
from netlab.kernel.cgroup import cgroup2_root

if TYPE_CHECKING:  # an annotation only: down and clean load this module, and need no plan types
    from netlab.features.base import Executor
    from netlab.model.plan import SetLimits

NAME = re.compile(r"(?P<lab>[a-z0-9][a-z0-9-]{0,23})\.(?P<run>[0-9a-f]{8})")
"""``<lab>.<run>``: a lab name (netlab.naming.LAB_NAME) and its run id (8 hex digits)."""
TOP = "netlab"


def _enable(directory: Path, wanted: set[str]) -> None:
    """Hand ``wanted`` controllers down from ``directory`` to its children (those it does not hand down yet)."""
    have = set((directory / "cgroup.subtree_control").read_text().split())
    missing = sorted(wanted - have)
    if missing:
        (directory / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:  # one write(2): the kernel takes the value whole
        f.write(value)


def apply(executor: Executor, actions: list[SetLimits]) -> None:
    """Apply's executor: a cgroup per limited node, its limits, then the node's services moved in."""
    root = cgroup2_root()
    if root is None:
        raise ApplyError("no cgroup2 file system is mounted: node limits need cgroup v2")
    wanted = {name for a in actions for name, value in (("cpu", a.cpu_max), ("memory", a.memory_max),
                                                         ("pids", a.pids_max)) if value is not None}
    lab_dir = root / TOP / f"{executor.lab}.{executor.run}"
    where = lab_dir
    try:
        _enable(root, wanted)
        (root / TOP).mkdir(exist_ok=True)
        _enable(root / TOP, wanted)
        lab_dir.mkdir()
        _enable(lab_dir, wanted)
        for action in actions:
            where = lab_dir / action.node
            where.mkdir()
            if action.cpu_max is not None:
                _write(where / "cpu.max", action.cpu_max)
            if action.memory_max is not None:
                _write(where / "memory.max", str(action.memory_max))
            if action.pids_max is not None:
                _write(where / "pids.max", str(action.pids_max))
            for pid in executor.started_pids(action.node):
                _write(where / "cgroup.procs", str(pid))
    except OSError as exc:
        teardown(executor.lab, executor.run)
        raise ApplyError(f"cgroup {where}: {exc.strerror or exc}") from None


def _rmdir(directory: Path) -> None:
    """rmdir a cgroup; one whose processes are still exiting answers EBUSY for a moment, and one that still has
    processes is emptied with cgroup.kill (they are the lab's: nothing else is ever moved in)."""
    deadline = time.monotonic() + 2.0
    while True:
        try:
            os.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            try:
                _write(directory / "cgroup.kill", "1")
            except OSError:
                pass
            time.sleep(0.05)


def teardown(lab: str, run: str) -> list[str]:
    """Remove ``<lab>.<run>`` and its node cgroups; [] if there is none (idempotent, like ``down``)."""
    root = cgroup2_root()
    if root is None or NAME.fullmatch(f"{lab}.{run}") is None:
        return []
    lab_dir = root / TOP / f"{lab}.{run}"
    if lab_dir.is_symlink() or not lab_dir.is_dir():
        return []
    for child in lab_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            _rmdir(child)
    _rmdir(lab_dir)
    try:
        os.rmdir(root / TOP)  # the last lab out: leave the hierarchy as it was
    except OSError:
        pass
    return [str(lab_dir)]


def clean(live: Mapping[str, str]) -> list[str]:
    """``netlab clean``: every ``<lab>.<run>`` cgroup whose lab is not up with that run."""
    removed: list[str] = []
    for lab, run, _where in lab_dirs():
        if live.get(lab) != run:
            removed += teardown(lab, run)
    return removed


def lab_dirs(lab: str | None = None) -> list[tuple[str, str, Path]]:
    """(lab, run, directory) of every ``<lab>.<run>`` cgroup netlab has (of ``lab`` only, if given)."""
    root = cgroup2_root()
    if root is None or not (root / TOP).is_dir():
        return []
    return [(m["lab"], m["run"], entry) for entry in sorted((root / TOP).iterdir())
            if (m := NAME.fullmatch(entry.name)) is not None and lab in (None, m["lab"])]


def leftovers(lab: str) -> list[str]:
    """The cgroups of ``lab`` (any run) that still exist: after ``down`` there must be none."""
    return [f"cgroup {where}" for _lab, _run, where in lab_dirs(lab)]
