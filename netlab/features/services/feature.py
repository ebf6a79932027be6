"""The services feature's hooks: TCP/UDP echo and HTTP servers started in nodes after their commands.

:mod:`.checks` (validate), :mod:`.model` (the YAML and the resolved spec), :mod:`.runner` (apply: double fork,
setns, readiness handshake; the process recorded in the state so ``down`` stops it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.features.base import CheckContext, Feature, PlanContext, ResolveContext
from netlab.features.services.checks import check_services
from netlab.features.services.model import spec_of
from netlab.model.plan import Action, StartService
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Node


def check(ctx: CheckContext) -> None:
    data = ctx.loaded.data
    if isinstance(data, dict):
        check_services(ctx.col, data.get("nodes"), dict(ctx.topo.nodes))


def resolve_node(ctx: ResolveContext, name: str, node: Node) -> Mapping[str, object]:
    return {"services": tuple(spec_of(name, svc) for svc in node.services)}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    for node in lab.nodes:
        for spec in node.services:
            yield StartService(node.netns, node.name, spec.name, spec.kind, spec.protocol, spec.address, spec.port,
                               spec.body)


FEATURE = Feature(
    name="services",
    check=check,
    resolve_node=resolve_node,
    plan=plan,
    export="netlab.features.services.export:commands",
)
