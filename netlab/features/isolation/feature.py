"""The isolation feature's hooks: a node's ``isolate:`` becomes one StartInit action, before its commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.features.base import DiagramPart, Feature, PlanContext, ResolveContext
from netlab.model.plan import Action, StartInit
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Node


def resolve_node(ctx: ResolveContext, name: str, node: Node) -> Mapping[str, object]:
    return {"init": StartInit(ctx.netns(name), name, tuple(node.isolate)) if node.isolate else None}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    return [node.init for node in lab.nodes if node.init is not None]


def diagram(lab: ResolvedLab) -> DiagramPart:
    notes = {node.name: (f"own {' '.join(node.init.namespaces)} namespaces",)
             for node in lab.nodes if node.init is not None}
    return DiagramPart(notes=notes)


FEATURE = Feature(
    name="isolation",
    resolve_node=resolve_node,
    plan=plan,
    diagram=diagram,
    export="netlab.features.isolation.export:commands",
)
