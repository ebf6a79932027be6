"""The stitches feature's hooks: each stitch is one more interface of its node, created from the host's namespace."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from netlab.core.checks import interface_name_problem, mac_problem
from netlab.core.diagnostics import PathKey
from netlab.core.facts import NodeFacts, parsed_addresses
from netlab.core.requirement import Requirement
from netlab.features.base import CheckContext, DiagramPart, Feature, PlanContext, ResolveContext
from netlab.features.stitches.model import STITCH_OVERHEAD
from netlab.model.plan import Action, AddAddress, CreateStitch, LinkUp
from netlab.model.resolved import ResolvedLab, ResolvedStitch
from netlab.model.topology import Topology

DEFAULT_MTU = 1500 - STITCH_OVERHEAD


def facts(topo: Topology, names: Mapping[PathKey, str], nodes: dict[str, NodeFacts]) -> None:
    for i, st in enumerate(topo.stitches):
        if st is not None and st.node in nodes:
            nodes[st.node].add_interface(st.interface, st.mtu or DEFAULT_MTU,
                                         parsed_addresses(st.address, ("stitches", i, "address")))


def addresses(topo: Topology) -> Iterable[str]:
    for st in topo.stitches:
        yield from st.address if st is not None else ()


def check(ctx: CheckContext) -> None:
    """The node exists, the interface name is free and valid, the underlay ends are IPv4 addresses, and no two
    stitches to one remote share a VNI (the far end could not tell them apart)."""
    col = ctx.col
    seen: dict[tuple[str, int, int], PathKey] = {}
    for i, st in enumerate(ctx.topo.stitches):
        if st is None:
            continue
        path: PathKey = ("stitches", i)
        if st.node not in ctx.topo.nodes:
            col.add((*path, "node"), f"no node {st.node!r}", f"nodes: {', '.join(sorted(ctx.topo.nodes))}")
            continue
        problem = interface_name_problem(st.interface)
        taken = ctx.interfaces.setdefault(st.node, set())
        if problem:
            col.add((*path, "interface"), f"interface name {st.interface!r} {problem}")
        elif st.interface in taken:
            col.add((*path, "interface"), f"{st.node} already has an interface {st.interface!r}")
        taken.add(st.interface)
        if st.mac is not None and (bad := mac_problem(st.mac)):
            col.add((*path, "mac"), *bad)
        for key in ("local", "remote"):
            try:
                ipaddress.IPv4Address(getattr(st, key))
            except ValueError:
                col.add((*path, key), f"{getattr(st, key)!r} is not an IPv4 address",
                        "the underlay addresses of the two machines (netlab up --hosts fills them in)")
        key3 = (st.remote, st.port, st.vni)
        if key3 in seen:
            col.add((*path, "vni"), f"VNI {st.vni} to {st.remote} is used twice",
                    "each stitch to one remote needs its own VNI")
        seen[key3] = path
        ctx.connected.setdefault(st.node, []).extend(a for a, _p in parsed_addresses(st.address, (*path, "address")))


def requirements(topo: Topology) -> list[Requirement]:
    return [Requirement("vxlan", f"{st.node}:{st.interface} is stitched to {st.remote} over VXLAN")
            for st in topo.stitches]


def resolve(ctx: ResolveContext) -> Mapping[str, object]:
    out = []
    for st in ctx.topo.stitches:
        netns = ctx.netns(st.node)
        index = ctx.take(netns)
        ctx.index_of.setdefault(st.node, {})[st.interface] = index  # a route may name it as `dev`
        create = CreateStitch(netns, st.interface, index, st.vni, st.local, st.remote, st.port,
                              st.mtu or DEFAULT_MTU, st.mac.lower() if st.mac else None)
        out.append(ResolvedStitch(st.node, create, tuple(st.address)))
    return {"stitches": tuple(out)}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    out: list[Action] = [s.create for s in lab.stitches]
    out += [LinkUp(s.create.netns, s.create.name, s.create.index, ctx.tag) for s in lab.stitches]
    out += [AddAddress(s.create.netns, s.create.name, s.create.index, a) for s in lab.stitches for a in s.addresses]
    return out


def diagram(lab: ResolvedLab) -> DiagramPart:
    notes: dict[str, list[str]] = {}
    for s in lab.stitches:
        c = s.create
        notes.setdefault(s.node, []).append(f"{c.name}: stitched, vxlan {c.vni} {c.local} → {c.remote}")
    return DiagramPart(notes={node: tuple(lines) for node, lines in notes.items()})


FEATURE = Feature(
    name="stitches",
    facts=facts,
    addresses=addresses,
    check=check,
    requirements=requirements,
    resolve=resolve,
    plan=plan,
    diagram=diagram,
    export="netlab.features.stitches.export:commands",
)
