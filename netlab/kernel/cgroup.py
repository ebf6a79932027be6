"""cgroup v2 mounts: which one hands out controllers. Shared by the feature prober (``netlab doctor``) and the
node-limits feature, so both judge a machine the same way."""

from __future__ import annotations

from pathlib import Path


def cgroup2_mounts() -> list[Path]:
    """Every cgroup2 mount point, in /proc/self/mounts order (a hybrid machine has ``/sys/fs/cgroup/unified``)."""
    mounts = []
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "cgroup2":
                    mounts.append(Path(fields[1].replace("\\040", " ")))
    except OSError:
        return []
    return mounts


def controllers(directory: Path) -> set[str]:
    """The controllers a cgroup directory can hand down (its ``cgroup.controllers``); empty if unreadable."""
    try:
        return set((directory / "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def cgroup2_root() -> Path | None:
    """The cgroup2 mount with controllers to hand out (``/sys/fs/cgroup`` on a v2 machine; a hybrid machine's
    unified hierarchy has none, its controllers being bound to v1), else the first cgroup2 mount."""
    mounts = cgroup2_mounts()
    return next((m for m in mounts if controllers(m)), mounts[0] if mounts else None)
