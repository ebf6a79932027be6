"""``netlab status`` for node limits: each limited node's cgroup as the kernel reports it -- its limits, what it
uses now, and how often it was throttled (``cpu.stat``), the numbers ``systemd-cgtop`` and ``docker stats`` show."""

from __future__ import annotations

from collections.abc import Callable

from netlab.features.limits.kernel import lab_dirs
from netlab.features.manifest import StatusPart
from netlab.model.resolved import ResolvedLab

FILES = ("cpu.max", "memory.max", "memory.current", "pids.max", "pids.current", "cgroup.procs")
STAT_KEYS = ("usage_usec", "nr_periods", "nr_throttled", "throttled_usec")


def read(lab: str, node: str) -> dict[str, object]:
    """The node's cgroup files (those that exist), ``cpu.stat``'s throttling counters, and its path."""
    dirs = lab_dirs(lab)
    if len(dirs) != 1 or not (dirs[0][2] / node).is_dir():
        return {"error": "no cgroup for this node (is the lab up?)"}
    where = dirs[0][2] / node
    out: dict[str, object] = {"path": str(where)}
    for name in FILES:
        try:
            text = (where / name).read_text().strip()
        except OSError:
            continue
        out[name] = text.split() if name == "cgroup.procs" else text
    try:
        stat = dict(line.split() for line in (where / "cpu.stat").read_text().splitlines() if line.count(" ") == 1)
        out["cpu.stat"] = {k: int(stat[k]) for k in STAT_KEYS if k in stat}
    except (OSError, ValueError):
        pass
    return out


def render(data: dict[str, object]) -> str:
    if "error" in data:
        return f"  cannot read: {data['error']}"
    lines = [f"  cgroup {data['path']}"]
    lines += [f"  {name:<15} {' '.join(v) if isinstance(v, list) else v}" for name in FILES
              if (v := data.get(name)) is not None]
    stat = data.get("cpu.stat")
    if isinstance(stat, dict):
        lines.append("  cpu.stat        " + " ".join(f"{k} {v}" for k, v in stat.items()))
    return "\n".join(lines)


def sections(lab: ResolvedLab, netns_of: Callable[[str], str | None]) -> list[StatusPart]:
    """The status hook: the nodes whose topology sets limits."""
    out = []
    for node in lab.nodes:
        if node.limits is not None and netns_of(node.name) is not None:
            data = read(lab.name, node.name)
            out.append(StatusPart(node.name, f"limits of {node.name} (cgroup v2)", render(data), data))
    return out
