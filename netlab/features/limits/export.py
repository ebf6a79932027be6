"""``netlab export`` of node limits: the cgroup made by hand, and every process of the node's namespace moved in."""

from __future__ import annotations

from shlex import quote

from netlab.model.plan import SetLimits


def commands(action: SetLimits) -> list[str]:
    d = f"/sys/fs/cgroup/netlab/$LAB_RUN/{action.node}"
    wanted = " ".join(f"+{c}" for c, v in (("cpu", action.cpu_max), ("memory", action.memory_max),
                                          ("pids", action.pids_max)) if v is not None)
    lines = [f"LAB_RUN=${{LAB_RUN:-export}}; mkdir -p {d}",
             f"for d in /sys/fs/cgroup /sys/fs/cgroup/netlab /sys/fs/cgroup/netlab/$LAB_RUN; do "
             f"echo {quote(wanted)} > $d/cgroup.subtree_control; done"]
    if action.cpu_max is not None:
        lines.append(f"echo {quote(action.cpu_max)} > {d}/cpu.max")
    if action.memory_max is not None:
        lines.append(f"echo {action.memory_max} > {d}/memory.max")
    if action.pids_max is not None:
        lines.append(f"echo {action.pids_max} > {d}/pids.max")
    lines.append(f"for pid in $(ip netns pids {quote(action.netns)}); do echo $pid > {d}/cgroup.procs; done")
    return lines
