"""The limits feature's hooks: a node's ``limits:`` becomes one SetLimits action, run after its services start."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.core.requirement import Requirement
from netlab.features.base import DiagramPart, Feature, PlanContext, ResolveContext
from netlab.features.limits.model import CPU_PERIOD, cpu_quota, memory_bytes
from netlab.model.plan import Action, SetLimits
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Node, Topology


def requirements(topo: Topology) -> list[Requirement]:
    reqs = []
    for name, node in topo.nodes.items():
        lim = node.limits
        if lim is None:
            continue
        for key, value in (("cpu", lim.cpu), ("memory", lim.memory), ("pids", lim.pids)):
            if value is not None:
                reqs.append(Requirement(f"cgroup2_{key}", f"node {name} limits {key} to {value}"))
    return reqs


def resolve_node(ctx: ResolveContext, name: str, node: Node) -> Mapping[str, object]:
    lim = node.limits
    if lim is None or (lim.cpu is None and lim.memory is None and lim.pids is None):
        return {"limits": None}
    cpu = f"{cpu_quota(lim.cpu)} {CPU_PERIOD}" if lim.cpu is not None else None
    memory = memory_bytes(lim.memory) if lim.memory is not None else None
    return {"limits": SetLimits(ctx.netns(name), name, cpu, memory, lim.pids)}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    return [node.limits for node in lab.nodes if node.limits is not None]


def diagram(lab: ResolvedLab) -> DiagramPart:
    notes = {node.name: (node.limits.settings(),) for node in lab.nodes if node.limits is not None}
    return DiagramPart(notes=notes)


FEATURE = Feature(
    name="limits",
    requirements=requirements,
    resolve_node=resolve_node,
    plan=plan,
    diagram=diagram,
    export="netlab.features.limits.export:commands",
)
