"""The tunnels feature's hooks: GRE/IPIP/VXLAN tunnels, macvlan/ipvlan sub-interfaces, bridges inside nodes.

Each hook is a thin adapter from the stage's context to this package's modules, named after the stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.core.diagnostics import PathKey
from netlab.core.facts import Addr, NodeFacts, parsed_addresses
from netlab.core.kernel_limits import BRIDGE_MAX_PORTS, DEFAULT_MTU
from netlab.features.base import CheckContext, DiagramPart, Feature, PlanContext, ResolveContext
from netlab.features.tunnels import checks
from netlab.features.tunnels.plan import overlay_actions
from netlab.features.tunnels.requirements import requirements
from netlab.features.tunnels.resolve import (
    VXLAN_PORT,
    resolve_overlay,
    split_parent,
    subinterface_names,
    tunnel_ifnames,
)
from netlab.model.plan import Action
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology


def facts(topo: Topology, names: Mapping[PathKey, str], nodes: dict[str, NodeFacts]) -> None:
    """Tunnel ends, sub-interfaces (their parent's MTU by default) and node bridges (their smallest port's)."""
    def add(node: str, ifname: str, mtu: int, addresses: list[tuple[Addr, PathKey]]) -> None:
        if node in nodes:
            nodes[node].add_interface(ifname, mtu, addresses)

    tnames = tunnel_ifnames(topo)
    for i, t in enumerate(topo.tunnels):
        for side in ("a", "b"):
            tend = getattr(t, side, None) if t is not None else None
            if t is not None and tend is not None and (i, side) in tnames:
                add(tend.node, tnames[(i, side)], t.mtu or DEFAULT_MTU[t.kind],
                    parsed_addresses(tend.address, ("tunnels", i, side, "address")))
    snames = subinterface_names(topo)
    for name, node in topo.nodes.items():
        for j, sub in enumerate(node.subinterfaces):
            if sub is None or (name, j) not in snames:
                continue
            pnode, pif = split_parent(sub.parent, name)
            parent_mtu = nodes[pnode].mtu.get(pif, DEFAULT_MTU["veth"]) if pnode in nodes else DEFAULT_MTU["veth"]
            add(name, snames[(name, j)], sub.mtu or parent_mtu,
                parsed_addresses(sub.address, ("nodes", name, "subinterfaces", j, "address")))
        for br_name, br in node.bridges.items():
            if br is None or name not in nodes:
                continue
            ports = [nodes[name].mtu[m] for m in br.members if m in nodes[name].mtu]
            add(name, br_name, br.mtu or DEFAULT_MTU["bridge"],
                parsed_addresses(br.address, ("nodes", name, "bridges", br_name, "address")))
            nodes[name].final_mtu[br_name] = br.mtu or min(ports, default=DEFAULT_MTU["bridge"])


def addresses(topo: Topology) -> Iterable[str]:
    """Every address this feature puts on an interface (a salvaged topology may hold ``None`` items)."""
    for t in topo.tunnels:
        for end in (getattr(t, "a", None), getattr(t, "b", None)):
            yield from end.address if end is not None else ()
    for node in topo.nodes.values():
        yield from (a for s in node.subinterfaces if s is not None for a in s.address)
        yield from (a for b in node.bridges.values() if b is not None for a in b.address)


def check(ctx: CheckContext) -> None:
    """Tunnels, sub-interfaces and node bridges; what they add counts for the routes and probes checked later."""
    more_ifs, more_addrs = checks.check(ctx.topo, ctx.interfaces, ctx.connected, ctx.col)
    for name, ifnames in more_ifs.items():
        ctx.interfaces.setdefault(name, set()).update(ifnames)
    for name, addrs in more_addrs.items():
        ctx.connected.setdefault(name, []).extend(addrs)


def check_kernel(ctx: CheckContext, nodes: dict[str, NodeFacts]) -> None:
    """Bridges of more ports than the kernel takes; sub-interfaces larger than their parent (EINVAL)."""
    col = ctx.col
    for name, node in ctx.topo.nodes.items():
        for br_name, br in node.bridges.items():
            if br is not None and len(br.members) > BRIDGE_MAX_PORTS:
                col.add(("nodes", name, "bridges", br_name, "members"),
                        f"a Linux bridge takes at most {BRIDGE_MAX_PORTS} ports", "split the members over bridges")
        for j, sub in enumerate(node.subinterfaces):
            if sub is None or sub.mtu is None:
                continue
            pnode, pif = split_parent(sub.parent, name)
            parent = nodes[pnode].mtu.get(pif) if pnode in nodes else None
            if parent is not None and sub.mtu > parent:
                col.add(("nodes", name, "subinterfaces", j, "mtu"), f"MTU {sub.mtu} is larger than its parent "
                        f"{pnode}:{pif}'s ({parent})", f"the kernel refuses a {sub.kind} larger than its parent "
                        "(EINVAL); lower it, or raise the parent's")


def resolve(ctx: ResolveContext) -> Mapping[str, object]:
    overlay = resolve_overlay(ctx.topo, ctx.interfaces, ctx.index_of, ctx.netns, ctx.take)
    for node in ctx.topo.nodes:
        ctx.index_of.setdefault(node, {}).update(overlay.indexes(node))  # a route may name a tunnel as `dev`
    return {"overlay": overlay}


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    groups = overlay_actions(lab.overlay, ctx.tag)
    return [*groups["links"], *groups["sublinks"], *groups["up"], *groups["addresses"]]


def masters(lab: ResolvedLab) -> Mapping[tuple[str, int], int]:
    return {(netns, index): master for netns, index, master in lab.overlay.masters}


TUNNEL_ROLES = {"gre": "GRE end", "gretap": "GRETAP end", "ipip": "IPIP end", "sit": "6in4 end", "vxlan": "VTEP"}


def diagram(lab: ResolvedLab) -> DiagramPart:
    """Each tunnel as an edge between its two tunnel interfaces (kind, key, VNI, port: what must match at both
    ends), its ends' roles and underlay addresses; sub-interfaces and node bridges as notes, a sub-interface
    in another node than its parent as an edge to that parent."""
    roles: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    edges: list[tuple[str, str, str]] = []
    overlay = lab.overlay
    for t in overlay.tunnels:
        label = t.kind + (f" key {t.key}" if t.key is not None else "") + (f" vni {t.vni}" if t.vni is not None else "")
        if t.kind == "vxlan":
            label += f" udp/{t.port or VXLAN_PORT}"
        a, b = t.ends
        edges.append((f"{a.node}:{a.ifname}", f"{b.node}:{b.ifname}", f"{label} ({t.name})"))
        for end in t.ends:
            roles[end.node] = TUNNEL_ROLES.get(t.kind, f"{t.kind} end")
            notes.setdefault(end.node, []).append(f"{end.ifname}: {t.kind} {end.local} → {end.remote}")
    for s in overlay.subinterfaces:
        parent = s.parent_ifname if s.parent_node == s.node else f"{s.parent_node}:{s.parent_ifname}"
        notes.setdefault(s.node, []).append(f"{s.ifname}: {s.kind} ({s.mode}) on {parent}")
        if s.parent_node != s.node:
            edges.append((f"{s.parent_node}:{s.parent_ifname}", f"{s.node}:{s.ifname}", f"{s.kind} {s.mode}"))
    for br in overlay.bridges:
        notes.setdefault(br.node, []).append(f"{br.name}: bridge of {', '.join(br.members)}")
    return DiagramPart(roles, tuple(edges), {node: tuple(lines) for node, lines in notes.items()})


FEATURE = Feature(
    name="tunnels",
    facts=facts,
    addresses=addresses,
    check=check,
    check_kernel=check_kernel,
    requirements=requirements,
    resolve=resolve,
    plan=plan,
    masters=masters,
    diagram=diagram,
    export="netlab.features.tunnels.export:commands",
)

