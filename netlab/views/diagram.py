"""What a lab's picture shows, as plain data: nodes with their interfaces and roles, links, LANs, what the
features add, and (optionally) the path the probes' packets were observed to take.

Why a model between the lab and the text: DOT (:mod:`.graph`), Mermaid and the handout's addressing
table (:mod:`.handout`) draw the same things, so they are collected once, from the resolved lab (no root,
no lab up) and each feature's ``diagram`` hook. Nothing here names a feature.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from netlab.core.frozen import frozen
from netlab.features.manifest import hooks
from netlab.features.registry import FEATURES
from netlab.model.resolved import ResolvedLab
from netlab.probes.path import PathRecord

Port = tuple[str, str | None]
"""(node, interface) an edge is drawn to; interface None: the node itself."""


@frozen
class Interface:
    name: str
    addresses: tuple[str, ...]
    peer: str
    """``router:eth0`` (a link), ``LAN servers`` (a LAN); empty for the interfaces features make."""


@frozen
class Box:
    """A node as drawn: its name, the roles the features give it, its interfaces, and notes."""

    name: str
    description: str
    roles: tuple[str, ...]
    interfaces: tuple[Interface, ...]
    notes: tuple[str, ...]


@frozen
class Lan:
    """A LAN: a bridge in a namespace of its own, drawn as one segment node its members connect to."""

    name: str
    subnets: tuple[str, ...]
    members: tuple[tuple[str, str], ...]
    """(node, interface) of every member, in the file's order."""


@frozen
class Link:
    """A point-to-point link (a veth pair) between two node interfaces."""

    a: tuple[str, str]
    b: tuple[str, str]
    subnets: tuple[str, ...]


@frozen
class Extra:
    """An edge a feature draws (a tunnel across the underlay, an IPVS director forwarding to a real server)."""

    a: Port
    b: Port
    label: str


@frozen
class PathEdge:
    """Packets of probes observed crossing from one node interface to another."""

    role: str
    """``request`` or ``reply``."""
    a: Port
    b: Port
    probes: tuple[str, ...]


@frozen
class Diagram:
    lab: str
    description: str
    nodes: tuple[Box, ...]
    lans: tuple[Lan, ...]
    links: tuple[Link, ...]
    extras: tuple[Extra, ...]
    path: tuple[PathEdge, ...] = ()
    recorded: str | None = None
    """When the path was observed (None: no path drawn)."""
    hosts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """A lab spread over hosts (netlab.multihost): (host, the nodes and ``lan:NAME``s on it), drawn as clusters."""
    stitched: tuple[tuple[str, str, str], ...] = ()
    """(node or ``lan:NAME``, interface, label) of each link end stitched to another host (``VXLAN 8540261``)."""


def _subnets(addresses: Iterable[str]) -> tuple[str, ...]:
    nets = []
    for text in addresses:
        try:
            net = ipaddress.ip_interface(text).network
        except ValueError:
            continue
        if net.prefixlen < net.max_prefixlen:
            nets.append(str(net))
    return tuple(dict.fromkeys(nets))


def _port(text: str) -> Port:
    """A feature's edge end: ``node`` or ``node:interface``."""
    node, _, ifname = text.partition(":")
    return node, ifname or None


def build(lab: ResolvedLab, path: PathRecord | None = None, probes: Iterable[str] | None = None) -> Diagram:
    """The diagram of ``lab``; with ``path``, the hops of its probes (``probes``: only those, by name)."""
    parts = [f.diagram(lab) for f in FEATURES if f.diagram is not None]
    roles: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    for part in parts:
        for name, role in part.roles.items():
            roles.setdefault(name, []).append(role)
        for name, lines in part.notes.items():
            notes.setdefault(name, []).extend(lines)
    ends: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for node in lab.nodes:
        for i in node.interfaces:
            ends.setdefault(i.segment, []).append((node.name, i.name, i.addresses))
    links, lans = [], []
    peer: dict[tuple[str, str], str] = {}
    for segment, members in ends.items():
        if segment.startswith("lans."):
            continue
        (na, ia, aa), (nb, ib, ab) = members[0], members[-1]
        links.append(Link((na, ia), (nb, ib), _subnets((*aa, *ab))))
        peer[(na, ia)], peer[(nb, ib)] = f"{nb}:{ib}", f"{na}:{ia}"
    for lan in lab.lans:
        members = ends.get(f"lans.{lan.name}", [])
        lans.append(Lan(lan.name, _subnets(a for _n, _i, addrs in members for a in addrs),
                        tuple((n, ifname) for n, ifname, _a in members)))
        for n, ifname, _a in members:
            peer[(n, ifname)] = f"LAN {lan.name} ({', '.join(m for m, _i, _x in members if m != n)})"
    boxes = []
    extra = [hook for _, hook in hooks("interfaces")]  # tunnels, sub-interfaces, bridges
    for node in lab.nodes:
        ifaces = [Interface(i.name, i.addresses, peer.get((node.name, i.name), "")) for i in node.interfaces]
        for hook in extra:
            ifaces += [Interface(name, addrs, "") for name, addrs in hook(lab, node.name)]
        if node.loopback:
            ifaces.append(Interface("lo", node.loopback, ""))
        boxes.append(Box(node.name, node.description, tuple(roles.get(node.name, ())), tuple(ifaces),
                         tuple(notes.get(node.name, ()))))
    extras = tuple(Extra(_port(a), _port(b), label) for part in parts for a, b, label in part.edges)
    edges: tuple[PathEdge, ...] = ()
    recorded = None
    if path is not None:
        edges, recorded = path_edges(path, probes), path.recorded
    return Diagram(lab.name, lab.description, tuple(boxes), tuple(lans), tuple(links), extras, edges, recorded)


def path_edges(record: PathRecord, probes: Iterable[str] | None = None) -> tuple[PathEdge, ...]:
    """One edge per (role, from, to) interface pair any selected probe's packets crossed, naming the probes."""
    wanted = set(probes) if probes is not None else None
    crossed: dict[tuple[str, str, str, str, str], list[str]] = {}
    for p in record.paths:
        if wanted is not None and p.probe not in wanted:
            continue
        for hop in p.hops:
            names = crossed.setdefault((hop.role, hop.from_node, hop.from_interface, hop.to_node, hop.to_interface),
                                       [])
            if p.probe not in names:
                names.append(p.probe)
    return tuple(PathEdge(role, (fn, fi), (tn, ti), tuple(names))
                 for (role, fn, fi, tn, ti), names in sorted(crossed.items(), key=lambda kv: kv[0][0] != "request"))
