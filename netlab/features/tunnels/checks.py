"""The validate hook for ``tunnels:``, node ``subinterfaces:`` and node ``bridges:``.

Checks what the shape cannot, each problem with its data path and a hint: nodes exist; interface names
fit the kernel, are not a fallback device's (``gre0``, ``tunl0`` …) and are unique in their node; a
tunnel's keys suit its kind; each end's ``local`` is an address of its node (or can be derived) and the
other end's is reachable from it on the underlay (a connected subnet or a route); inner addresses are
one subnet per family, IPv4 only on IPIP; no two tunnels of a node collide in the kernel (same VNI and
port, or same endpoints and key); a sub-interface's parent is a link or LAN interface of the lab, with
a mode of its kind, and one parent carries either macvlan or ipvlan, never both (the kernel answers
EBUSY); a bridge's members are interfaces of its node, each in one bridge.

It returns the interfaces and addresses it adds per node, so that routes (``dev: gre1``, ``via:`` an
inner address) and probes (``at: r1:gre1``) that refer to them validate.
"""

from __future__ import annotations

import difflib
import ipaddress
from typing import TYPE_CHECKING

from netlab.core.kernel_limits import FALLBACK_DEVICES
from netlab.features.tunnels.model import IPVLAN_MODES, MACVLAN_MODES
from netlab.features.tunnels.resolve import (
    VXLAN_PORT,
    local_candidates,
    split_parent,
    subinterface_names,
    tunnel_ifnames,
)
from netlab.model.topology import Topology

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey

Addr = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def _name_problem(name: str, node: str, taken: dict[str, set[str]], path: PathKey, col: Collector) -> bool:
    """Report why ``name`` cannot be an interface of ``node``; True if it can (and it is now taken)."""
    from netlab.core.checks import interface_name_problem

    problem = interface_name_problem(name)
    if problem:
        col.add(path, f"interface name {name!r} {problem}")
        return False
    if name == "lo":
        col.add(path, "'lo' is the loopback interface", "pick another name")
        return False
    if name in FALLBACK_DEVICES:
        col.add(path, f"{name!r} is the name of a kernel fallback device",
                "a full kernel adds gre0, tunl0, sit0, … to every namespace once the tunnel modules are loaded; "
                "use e.g. gre1")
        return False
    if name in taken.setdefault(node, set()):
        col.add(path, f"node {node!r} already has an interface {name!r}", "interface names are unique per node")
        return False
    taken[node].add(name)
    return True


def _unknown_node(node: str, topo: Topology, path: PathKey, col: Collector) -> bool:
    if node in topo.nodes:
        return False
    close = difflib.get_close_matches(node, list(topo.nodes), n=1)
    col.add(path, f"unknown node {node!r}",
            f"did you mean {close[0]!r}?" if close else f"nodes are: {', '.join(topo.nodes) or 'none'}")
    return True


def _addresses(texts: tuple[str, ...], path: PathKey, col: Collector, seen: dict[object, PathKey]) -> list[Addr]:
    from netlab.core.checks import parse_address
    from netlab.core.diagnostics import format_path

    out = []
    for k, text in enumerate(texts):
        apath = (*path, k) if len(texts) > 1 else path
        iface = parse_address(text, apath, col)
        if iface is None:
            continue
        if iface.ip in seen:
            col.add(apath, f"address {iface.ip} is used twice", f"also at {format_path(seen[iface.ip])}")
        seen[iface.ip] = apath
        out.append(iface)
    return out


def _reachable(topo: Topology, node: str, target: ipaddress.IPv4Address, connected: list[Addr]) -> bool:
    """Is ``target`` on a subnet of ``node`` or covered by one of its routes (``default`` included)?"""
    if any(target in c.network for c in connected if c.version == 4 and c.network.prefixlen < 32):
        return True
    for route in topo.nodes[node].routes:
        if route is None:
            continue
        if route.to == "default" and ":" not in (route.via or ""):
            return True
        try:
            if target in ipaddress.ip_network(route.to, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def check(topo: Topology, interfaces: dict[str, set[str]], connected: dict[str, list[Addr]],
          col: Collector) -> tuple[dict[str, set[str]], dict[str, list[Addr]]]:
    """Every problem of the tunnels, sub-interfaces and node bridges; and what they add to each node."""
    taken = {node: set(names) for node, names in interfaces.items()}
    seen: dict[object, PathKey] = {c.ip: ("nodes", n) for n, cs in connected.items() for c in cs}
    added_ifs: dict[str, set[str]] = {}
    added_addrs: dict[str, list[Addr]] = {}
    names = tunnel_ifnames(topo)
    ifaces = {n: [("", tuple(str(c) for c in connected.get(n, [])))] for n in topo.nodes}
    collisions: dict[tuple[object, ...], int] = {}
    for i, t in enumerate(topo.tunnels):
        if t is None:
            continue
        path: PathKey = ("tunnels", i)
        if t.key is not None and t.kind not in ("gre", "gretap"):
            col.add((*path, "key"), f"`key` is a GRE key; {_an(t.kind)} tunnel has none",
                    "use `vni` for VXLAN" if t.kind == "vxlan" else "remove it, or make it `kind: gre`")
        if t.kind == "vxlan" and t.vni is None:
            col.add(path, "a VXLAN tunnel needs `vni`", "e.g. vni: 42 (0-16777215), the same at both ends")
        if t.kind != "vxlan" and t.vni is not None:
            col.add((*path, "vni"), f"`vni` is a VXLAN identifier; {_an(t.kind)} tunnel has none")
        if t.kind != "vxlan" and t.port is not None:
            col.add((*path, "port"), f"`port` is VXLAN's UDP port; {t.kind.upper()} is not carried in UDP")
        if t.a is None or t.b is None:
            continue
        if t.a.node == t.b.node:
            col.add(path, f"both ends are on node {t.a.node!r}", "a tunnel joins two different nodes")
        local: dict[str, ipaddress.IPv4Address | None] = {}
        for side in ("a", "b"):
            end = getattr(t, side)
            epath: PathKey = (*path, side)
            local[side] = None
            if _unknown_node(end.node, topo, (*epath, "node"), col):
                continue
            ifname = names[(i, side)]
            if _name_problem(ifname, end.node, taken, (*epath, "interface"), col):
                added_ifs.setdefault(end.node, set()).add(ifname)
            own = [str(c.ip) for c in connected.get(end.node, [])]
            if end.local is not None:
                try:
                    ip = ipaddress.ip_address(end.local)
                except ValueError:
                    col.add((*epath, "local"), f"{end.local!r} is not an IP address", "a single address, no prefix")
                    continue
                if ip.version != 4:
                    col.add((*epath, "local"), f"{ip} is IPv6; netlab's {t.kind} tunnels run over IPv4 underlays")
                    continue
                if str(ip) not in own:
                    col.add((*epath, "local"), f"{ip} is not an address of node {end.node!r}",
                            f"its IPv4 addresses: {', '.join(local_candidates(topo, end.node, ifaces)) or 'none'}")
                local[side] = ip
            else:
                found = local_candidates(topo, end.node, ifaces)
                if len(found) == 1:
                    local[side] = ipaddress.IPv4Address(found[0])
                else:
                    col.add(epath, f"cannot tell which address of {end.node!r} is this end's underlay address",
                            f"set `local:` to one of {', '.join(found)}" if found else
                            f"{end.node!r} has no IPv4 address: give it one on the underlay and set `local:`")
            for a in _addresses(end.address, (*epath, "address"), col, seen):
                if t.kind == "ipip" and a.version == 6:
                    col.add((*epath, "address"), f"{a} is IPv6, and IPIP carries only IPv4",
                            "use `kind: sit` (IPv6 in IPv4) or `kind: gre` to carry IPv6")
                if t.kind == "sit" and a.version == 4:
                    col.add((*epath, "address"), f"{a} is IPv4, and a sit tunnel carries only IPv6",
                            "use `kind: ipip` or `kind: gre` to carry IPv4")
                added_addrs.setdefault(end.node, []).append(a)
        for side, other in (("a", "b"), ("b", "a")):
            end, remote = getattr(t, side), local[other]
            if remote is None or end.node not in topo.nodes:
                continue
            if not _reachable(topo, end.node, remote, connected.get(end.node, [])):
                col.add((*path, side, "node"), f"{end.node} cannot reach the other end's underlay address {remote}",
                        f"add a route on {end.node} toward {remote} (or give it an address on that subnet)")
            key: tuple[object, ...] = ((end.node, "vxlan", t.vni, t.port or VXLAN_PORT) if t.kind == "vxlan" else
                                       (end.node, t.kind, local[side], remote, t.key))
            if key in collisions:
                what = (f"VNI {t.vni} on port {t.port or VXLAN_PORT}" if t.kind == "vxlan" else
                        f"{t.kind} from {local[side]} to {remote}"
                        + (f" with key {t.key}" if t.key is not None else ""))
                col.add((*path, side), f"node {end.node} already has a tunnel with {what}",
                        f"also at tunnels[{collisions[key]}]; the kernel cannot tell them apart"
                        + ("" if t.kind == "vxlan" else " (give them different keys or addresses)"))
            collisions.setdefault(key, i)
        a_inner = [ipaddress.ip_interface(x) for x in _quiet(t.a.address)]
        for b_addr in (ipaddress.ip_interface(x) for x in _quiet(t.b.address)):
            for a_addr in a_inner:
                if a_addr.version == b_addr.version and a_addr.network != b_addr.network:
                    col.add((*path, "b", "address"), f"{b_addr} is not in the subnet {a_addr.network} of end a",
                            "both ends of a tunnel share a subnet per family (same prefix length too)")
    _check_subinterfaces(topo, interfaces, taken, seen, added_ifs, added_addrs, col)
    _check_bridges(topo, interfaces, added_ifs, taken, seen, added_addrs, col)
    if topo.ipv6 is False:
        _check_ipv6_off(topo, col)
    return added_ifs, added_addrs


def _check_ipv6_off(topo: Topology, col: Collector) -> None:
    """``ipv6: false`` turns IPv6 off in every namespace: an IPv6 address here would fail in the kernel."""
    places: list[tuple[PathKey, tuple[str, ...]]] = []
    for i, t in enumerate(topo.tunnels):
        if t is not None:
            places += [(("tunnels", i, side, "address"), getattr(t, side).address) for side in ("a", "b")
                       if getattr(t, side) is not None]
    for name, node in topo.nodes.items():
        places += [(("nodes", name, "subinterfaces", j, "address"), sub.address)
                   for j, sub in enumerate(node.subinterfaces) if sub is not None]
        places += [(("nodes", name, "bridges", br_name, "address"), br.address)
                   for br_name, br in node.bridges.items() if br is not None]
    for path, addresses in places:
        if any(":" in a for a in addresses):
            col.add(path, "IPv6 address in a lab with `ipv6: false`",
                    "remove `ipv6: false` (IPv6 is turned on automatically when used)")


def _an(kind: str) -> str:
    """``an IPIP``, ``a GRE``, ``a VXLAN``, ``a macvlan``, ``an ipvlan``: the kind with its article."""
    word = kind.upper() if kind in ("gre", "ipip", "vxlan") else kind
    if kind == "gretap":
        return "a GRETAP"
    return f"{'an' if word[0] in 'aeiouI' else 'a'} {word}"


def _quiet(texts: tuple[str, ...]) -> list[str]:
    """Parsable addresses only, in the canonical text ``ip_interface`` prints."""
    out = []
    for text in texts:
        try:
            out.append(str(ipaddress.ip_interface(text)))
        except ValueError:
            continue
    return out


def _check_subinterfaces(topo: Topology, interfaces: dict[str, set[str]], taken: dict[str, set[str]],
                         seen: dict[object, PathKey], added_ifs: dict[str, set[str]],
                         added_addrs: dict[str, list[Addr]], col: Collector) -> None:
    from netlab.core.checks import mac_problem

    names = subinterface_names(topo)
    kinds_on: dict[tuple[str, str], tuple[str, PathKey]] = {}
    for node_name, node in topo.nodes.items():
        for j, sub in enumerate(node.subinterfaces):
            if sub is None:
                continue
            path: PathKey = ("nodes", node_name, "subinterfaces", j)
            if _name_problem(names[(node_name, j)], node_name, taken, (*path, "name"), col):
                added_ifs.setdefault(node_name, set()).add(names[(node_name, j)])
            modes = MACVLAN_MODES if sub.kind == "macvlan" else IPVLAN_MODES
            if sub.mode is not None and sub.mode not in modes:
                col.add((*path, "mode"), f"{sub.mode!r} is not {_an(sub.kind)} mode", f"one of: {', '.join(modes)}")
            if sub.mac is not None:
                if sub.kind == "ipvlan":
                    col.add((*path, "mac"), "an ipvlan has its parent's MAC; it cannot have its own",
                            "use `kind: macvlan` for a MAC per interface")
                elif (problem := mac_problem(sub.mac)) is not None:  # the kernel refuses it (EADDRNOTAVAIL)
                    col.add((*path, "mac"), f"{sub.mac!r} is not a unicast MAC address", problem[1])
            pnode, pif = split_parent(sub.parent, node_name)
            if _unknown_node(pnode, topo, (*path, "parent"), col):
                continue
            if pif not in interfaces.get(pnode, set()):
                col.add((*path, "parent"), f"node {pnode!r} has no link or LAN interface {pif!r}",
                        f"its interfaces: {', '.join(sorted(interfaces.get(pnode, set()))) or 'none'}; the parent "
                        "is an interface inside the lab (`NODE:IFNAME`), never the machine's own")
                continue
            other = kinds_on.get((pnode, pif))
            if other is not None and other[0] != sub.kind:
                from netlab.core.diagnostics import format_path
                col.add((*path, "kind"), f"{pnode}:{pif} already carries {_an(other[0])} ({format_path(other[1])})",
                        "one parent takes macvlan or ipvlan sub-interfaces, not both (the kernel answers EBUSY)")
            kinds_on.setdefault((pnode, pif), (sub.kind, path))
            added_addrs.setdefault(node_name, []).extend(_addresses(sub.address, (*path, "address"), col, seen))


def _check_bridges(topo: Topology, interfaces: dict[str, set[str]], added_ifs: dict[str, set[str]],
                   taken: dict[str, set[str]], seen: dict[object, PathKey], added_addrs: dict[str, list[Addr]],
                   col: Collector) -> None:
    for node_name, node in topo.nodes.items():
        member_of: dict[str, str] = {}
        for br_name, br in node.bridges.items():
            if br is None:
                continue
            path: PathKey = ("nodes", node_name, "bridges", br_name)
            if _name_problem(br_name, node_name, taken, path, col):
                added_ifs.setdefault(node_name, set()).add(br_name)
            known = interfaces.get(node_name, set()) | added_ifs.get(node_name, set())
            if not br.members:
                col.add((*path, "members"), "a bridge needs at least one member interface")
            for k, port in enumerate(br.hairpin):
                if port not in br.members:
                    col.add((*path, "hairpin", k), f"{port!r} is not a member of bridge {br_name}",
                            f"hairpin is a port's setting; members: {', '.join(br.members) or 'none'}")
            for k, member in enumerate(br.members):
                mpath: PathKey = (*path, "members", k)
                if member not in known or member in node.bridges:
                    col.add(mpath, f"node {node_name!r} has no interface {member!r} to put in a bridge",
                            f"its interfaces: {', '.join(sorted(known - set(node.bridges))) or 'none'}")
                elif member in member_of:
                    col.add(mpath, f"{member} is already a port of bridge {member_of[member]}",
                            "an interface can be in one bridge only")
                else:
                    member_of[member] = br_name
            added_addrs.setdefault(node_name, []).extend(_addresses(br.address, (*path, "address"), col, seen))
