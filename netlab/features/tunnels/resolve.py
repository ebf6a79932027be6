"""Names, indexes and underlay addresses of tunnels, sub-interfaces and node bridges.

Shared with validation (:mod:`.checks`) so that what ``validate`` checks is exactly what ``up`` creates:
the default interface names and the default ``local`` address are computed here once.

Choices, and why:

* Default names are ``gre1``/``ipip1``/``vxlan1`` (and ``mv0``/``ipvl0``): ``gre0``, ``tunl0``,
  ``gretap0``, ``erspan0``, ``sit0``, ``ip6tnl0``, ``ip6gre0`` are the fallback devices a full kernel adds
  to every namespace once the tunnel modules are loaded, so a tunnel must never be called that.
* Indexes come from resolve's per-namespace counter (after links and LANs), like every other
  interface: apply never asks the kernel which index a device got.
* A sub-interface in another node than its parent is created *on the parent's namespace socket*
  (the kernel looks the parent up there) and moved at birth into its own namespace with
  ``IFLA_NET_NS_FD`` -- as the veth peer is -- keeping the index chosen here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from netlab.features.tunnels.resolved import (
    ResolvedNodeBridge,
    ResolvedOverlay,
    ResolvedSubInterface,
    ResolvedTunnel,
    ResolvedTunnelEnd,
)
from netlab.model.topology import Topology

VXLAN_PORT = 4789
SUB_PREFIX = {"macvlan": "mv", "ipvlan": "ipvl"}
DEFAULT_MODE = {"macvlan": "bridge", "ipvlan": "l2"}

Interfaces = dict[str, list[tuple[str, tuple[str, ...]]]]
"""node → [(ifname, addresses with prefix)] of its link and LAN interfaces, in order."""


def _first_free(prefix: str, start: int, taken: set[str]) -> str:
    """``prefix`` + the first number from ``start`` not in ``taken``, which it is then added to."""
    n = start
    while f"{prefix}{n}" in taken:
        n += 1
    taken.add(f"{prefix}{n}")
    return f"{prefix}{n}"


def tunnel_ifnames(topo: Topology) -> dict[tuple[int, str], str]:
    """(tunnel index, ``a``/``b``) → interface name: the given one, else ``<kind>1``, ``<kind>2`` … per node."""
    taken: dict[str, set[str]] = {}
    for t in topo.tunnels:
        if t is None:
            continue
        for end in (t.a, t.b):
            if end is not None and end.interface:
                taken.setdefault(end.node, set()).add(end.interface)
    out: dict[tuple[int, str], str] = {}
    for i, t in enumerate(topo.tunnels):
        if t is None:
            continue
        for side in ("a", "b"):
            end = getattr(t, side)
            if end is None:
                continue
            if end.interface:
                out[(i, side)] = end.interface
                continue
            out[(i, side)] = _first_free(t.kind, 1, taken.setdefault(end.node, set()))
    return out


def subinterface_names(topo: Topology) -> dict[tuple[str, int], str]:
    """(node, position in its ``subinterfaces``) → name: the given one, else ``mv0``/``ipvl0``, counting up."""
    out: dict[tuple[str, int], str] = {}
    for node_name, node in topo.nodes.items():
        taken = {s.name for s in node.subinterfaces if s is not None and s.name}
        for j, sub in enumerate(node.subinterfaces):
            if sub is None:
                continue
            if sub.name:
                out[(node_name, j)] = sub.name
                continue
            out[(node_name, j)] = _first_free(SUB_PREFIX[sub.kind], 0, taken)
    return out


def split_parent(parent: str, node: str) -> tuple[str, str]:
    """``host:eth0`` → (host, eth0); a bare ``eth0`` is the node's own."""
    if ":" in parent:
        owner, _, ifname = parent.partition(":")
        return owner, ifname
    return node, parent


def local_candidates(topo: Topology, node: str, ifaces: Interfaces) -> list[str]:
    """The node's IPv4 addresses (interfaces, then loopback): where a tunnel end's ``local`` may come from."""
    found: list[str] = []
    for _name, addrs in ifaces.get(node, []):
        for a in addrs:
            try:
                iface = ipaddress.ip_interface(a)
            except ValueError:
                continue
            if iface.version == 4:
                found.append(str(iface.ip))
    for a in topo.nodes[node].loopback if node in topo.nodes else ():
        try:
            ip = ipaddress.ip_interface(a).ip
        except ValueError:
            continue
        if ip.version == 4:
            found.append(str(ip))
    return found


def default_local(topo: Topology, node: str, ifaces: Interfaces) -> str | None:
    """The node's only IPv4 address, or None when it has none or several (then ``local`` is required)."""
    found = local_candidates(topo, node, ifaces)
    return found[0] if len(found) == 1 else None


def resolve_overlay(topo: Topology, ifaces: Interfaces, index_of: dict[str, dict[str, int]],
                    netns_of: Callable[[str], str], take: Callable[[str], int]) -> ResolvedOverlay:
    """Tunnels, sub-interfaces and node bridges of a validated topology, with indexes from ``take``.

    ``index_of`` is node → link/LAN interface name → index (parents and bridge ports).
    """
    own: dict[str, dict[str, int]] = {n: {} for n in topo.nodes}
    # bridges first in each node: they are created first, and their index is what ports point at
    for node_name, node in topo.nodes.items():
        for br_name in node.bridges:
            own[node_name][br_name] = take(netns_of(node_name))
    names = tunnel_ifnames(topo)
    tun_index: dict[tuple[int, str], int] = {}
    for i, t in enumerate(topo.tunnels):
        for side in ("a", "b"):
            node = getattr(t, side).node
            tun_index[(i, side)] = own[node][names[(i, side)]] = take(netns_of(node))
    sub_names = subinterface_names(topo)
    sub_index: dict[tuple[str, int], int] = {}
    for node_name, node in topo.nodes.items():
        for j, sub in enumerate(node.subinterfaces):
            # created on the parent's socket: some kernels (Debian's 6.1; not 6.18) look the requested index up
            # in *that* namespace (EEXIST if taken there) before moving the device, so pick one free in both
            target, parent_ns = netns_of(node_name), netns_of(split_parent(sub.parent, node_name)[0])
            index = take(target)
            if parent_ns != target:
                in_parent = take(parent_ns)
                while index != in_parent:
                    if index < in_parent:
                        index = take(target)
                    else:
                        in_parent = take(parent_ns)
            sub_index[(node_name, j)] = own[node_name][sub_names[(node_name, j)]] = index

    def master(node: str, ifname: str) -> int | None:
        for br_name, br in topo.nodes[node].bridges.items():
            if ifname in br.members:
                return own[node][br_name]
        return None

    tunnels = []
    for i, t in enumerate(topo.tunnels):
        local = {side: getattr(t, side).local or default_local(topo, getattr(t, side).node, ifaces) or ""
                 for side in ("a", "b")}
        ends = []
        for side, other in (("a", "b"), ("b", "a")):
            end = getattr(t, side)
            ends.append(ResolvedTunnelEnd(
                node=end.node, netns=netns_of(end.node), ifname=names[(i, side)], index=tun_index[(i, side)],
                local=local[side], remote=local[other], addresses=end.address,
                master_index=master(end.node, names[(i, side)])))
        port = (t.port or VXLAN_PORT) if t.kind == "vxlan" else None
        tunnels.append(ResolvedTunnel(t.name or f"tunnels[{i}]", t.kind, t.key, t.vni, port, t.ttl, t.mtu,
                                      (ends[0], ends[1])))
    subs = []
    for node_name, node in topo.nodes.items():
        for j, sub in enumerate(node.subinterfaces):
            pnode, pif = split_parent(sub.parent, node_name)
            subs.append(ResolvedSubInterface(
                node=node_name, netns=netns_of(node_name), ifname=sub_names[(node_name, j)],
                index=sub_index[(node_name, j)], kind=sub.kind, mode=sub.mode or DEFAULT_MODE[sub.kind],
                parent_node=pnode, parent_netns=netns_of(pnode), parent_ifname=pif,
                parent_index=index_of[pnode][pif], addresses=sub.address, mac=sub.mac, mtu=sub.mtu,
                master_index=master(node_name, sub_names[(node_name, j)])))
    bridges = []
    masters = []
    for node_name, node in topo.nodes.items():
        for br_name, br in node.bridges.items():
            ports = index_of.get(node_name, {}) | own.get(node_name, {})
            bridges.append(ResolvedNodeBridge(node_name, netns_of(node_name), br_name, own[node_name][br_name],
                                              br.mtu, br.address, br.members,
                                              tuple((p, ports[p]) for p in br.hairpin if p in ports)))
            for member in br.members:
                if member in index_of.get(node_name, {}):
                    masters.append((netns_of(node_name), index_of[node_name][member], own[node_name][br_name]))
    return ResolvedOverlay(tuple(tunnels), tuple(subs), tuple(bridges), tuple(masters))


def overlay_addresses(topo: Topology) -> list[str]:
    """Every address this package puts on an interface (resolve turns IPv6 on if one is IPv6)."""
    out = [a for t in topo.tunnels for end in (t.a, t.b) for a in end.address]
    out += [a for n in topo.nodes.values() for s in n.subinterfaces for a in s.address]
    out += [a for n in topo.nodes.values() for b in n.bridges.values() for a in b.address]
    return out
