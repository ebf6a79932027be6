"""The iptables feature's hooks: per-node tables, user chains and rules in iptables-save syntax.

:mod:`.rules` checks and renders (pure), :mod:`.checks` adds what iptables-restore refuses, :mod:`.kernel`
loads the payload inside the node all or nothing and reads rules and counters back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.core.requirement import Requirement
from netlab.features.base import CheckContext, Feature, PlanContext, ResolveContext
from netlab.features.iptables import checks, rules
from netlab.features.iptables.model import Iptables
from netlab.model.plan import Action, LoadIptables
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Node, Topology


def check(ctx: CheckContext) -> None:
    """Each node's rules; a node whose ``iptables:`` failed the shape pass is salvaged table by table, so a
    misspelt table does not hide the problems of the rules in the others."""
    for name, node in ctx.topo.nodes.items():
        ipt = getattr(node, "iptables", None)
        raw = ctx.raw_node(name)
        if ipt is None and raw is not None and isinstance(raw.get("iptables"), dict):
            ipt = ctx.salvage(Iptables, raw["iptables"])
        if ipt is not None:
            rules.check(name, ipt, ctx.col.add)
            checks.check_tables(name, ipt, ctx.col)


def requirements(topo: Topology) -> list[Requirement]:
    reqs = []
    for name, node in topo.nodes.items():
        if node.iptables is not None:
            tables = ", ".join(t for t, _ in node.iptables.tables()) or "no tables"
            reqs.append(Requirement("iptables", f"node {name} has iptables rules ({tables})"))
            reqs.append(Requirement("tool:iptables-restore", f"node {name}'s rules are loaded with iptables-restore"))
    return reqs


def resolve_node(ctx: ResolveContext, name: str, node: Node) -> Mapping[str, object]:
    return {"iptables": rules.resolve_tables(ctx.topo.name, node.iptables, ctx.origin, name)}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    for node in lab.nodes:
        if node.iptables:
            payload, rule_lines = rules.render(node.name, lab.name, node.iptables)
            yield LoadIptables(node.netns, node.name, payload, rule_lines)


FEATURE = Feature(
    name="iptables",
    check=check,
    requirements=requirements,
    resolve_node=resolve_node,
    plan=plan,
    export="netlab.features.iptables.export:commands",
)
