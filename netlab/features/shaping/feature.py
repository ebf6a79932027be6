"""The shaping feature's hooks: per-interface netem/tbf root qdiscs (delay, loss, a bottleneck)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.core.requirement import Requirement
from netlab.features.base import CheckContext, DiagramPart, Feature, PlanContext, ResolveContext
from netlab.features.shaping import checks
from netlab.features.shaping.model import Shape
from netlab.features.shaping.resolve import qdisc_kind
from netlab.features.shaping.resolve import resolve as resolve_shapes
from netlab.model.plan import Action
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology


def check(ctx: CheckContext) -> None:
    shapes = getattr(ctx.topo, "shaping", ())
    raw = ctx.loaded.data.get("shaping") if isinstance(ctx.loaded.data, dict) else None
    if not shapes and isinstance(raw, list):
        shapes = tuple(ctx.salvage(Shape, item) if isinstance(item, dict) else None for item in raw)
    checks.check(ctx.topo, tuple(shapes), ctx.interfaces, ctx.col)


def requirements(topo: Topology) -> list[Requirement]:
    reqs = []
    for shape in topo.shaping:
        kind = qdisc_kind(shape)
        if kind == "netem":
            reqs.append(Requirement("netem", f"{shape.at} is shaped with netem (delay, loss, …)"))
        elif kind == "tbf":
            reqs.append(Requirement("tbf", f"{shape.at} is a {shape.rate} bottleneck (tbf)"))
        if shape.qdisc is not None and kind != "netem":
            reqs.append(Requirement(shape.qdisc, f"{shape.at} queues with {shape.qdisc}"))
    return reqs


def resolve(ctx: ResolveContext) -> Mapping[str, object]:
    return {"shaping": resolve_shapes(ctx.topo.shaping, ctx.netns, ctx.origin)}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    return lab.shaping


def diagram(lab: ResolvedLab) -> DiagramPart:
    notes: dict[str, list[str]] = {}
    for s in lab.shaping:
        notes.setdefault(s.node, []).append(f"{s.ifname} out: {s.kind} {s.settings()}".rstrip())
    return DiagramPart(notes={n: tuple(v) for n, v in notes.items()})


FEATURE = Feature(
    name="shaping",
    check=check,
    requirements=requirements,
    resolve=resolve,
    plan=plan,
    diagram=diagram,
    export="netlab.features.shaping.export:commands",
)
