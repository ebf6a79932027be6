"""The IPVS checks of validate: virtual services, and what netlab derives for their roles.

Why separate: IPVS is a model of its own (``ipvs:``), and netlab *derives* addresses, routes and sysctls
for each role (:mod:`netlab.features.ipvs.derive`) -- so besides the services' own references (nodes, VIP xor
fwmark, ports, the subnets DR and NAT depend on), validation must check that what netlab adds does not
collide in the kernel with what the topology already has (a NAT real server's derived default route
against a user route to 0.0.0.0/0; a VIP against the same address on the same interface: EEXIST).
"""

from __future__ import annotations

import difflib
import ipaddress
from typing import TYPE_CHECKING

from netlab.core.routes import IP, RouteKey, check_derived_routes, route_key
from netlab.model.topology import Topology

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.model.topology import Endpoint


Addr = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def check_services(topo: Topology, interfaces: dict[str, set[str]], connected: dict[str, list[Addr]],
                   col: Collector) -> None:
    """Virtual services: nodes exist, VIP xor fwmark, ports, and the L2/L3 facts each mode depends on."""
    seen: dict[tuple[object, ...], int] = {}
    for k, svc in enumerate(topo.ipvs):
        if svc is None:
            continue
        path: PathKey = ("ipvs", k)
        if svc.director not in topo.nodes:
            col.add((*path, "director"), f"unknown node {svc.director!r}",
                    f"nodes are: {', '.join(topo.nodes) or 'none'}")
        if (svc.vip is None) == (svc.fwmark is None):
            col.add(path, "a virtual service needs exactly one of `vip` (with `port`) or `fwmark`")
        vip = None
        if svc.vip is not None:
            try:
                vip = ipaddress.ip_address(svc.vip)
                if "%" in svc.vip or vip.is_unspecified or (vip.version == 6 and (vip.is_multicast or vip.is_loopback)):
                    col.add((*path, "vip"), f"{svc.vip} cannot be a VIP", "netlab puts the VIP on an interface, and "
                            "the kernel takes no scope id, no unspecified address, no IPv6 multicast or ::1 there")
                    vip = None
            except ValueError:
                col.add((*path, "vip"), f"{svc.vip!r} is not an IP address", "the VIP is a single address, no prefix")
            if svc.port is None:
                col.add(path, "a VIP service needs `port`", "e.g. port: 80 (0 only with persistence: every port)")
            elif svc.port == 0 and not svc.persistence:
                col.add((*path, "port"), "port 0 (every port) needs `persistence`", "as `ipvsadm -p` requires")
        key = (svc.vip, svc.port, svc.protocol, svc.fwmark)
        if key in seen:
            col.add(path, "the same virtual service is defined twice", f"also at ipvs[{seen[key]}]")
        seen.setdefault(key, k)
        if any(f.startswith("sh-") for f in svc.flags) and svc.scheduler != "sh":
            col.add((*path, "flags"), "sh-fallback and sh-port are flags of the sh scheduler",
                    "set `scheduler: sh`, or remove the flags")
        if svc.vip_interface is not None and svc.director in topo.nodes and svc.vip_interface != "lo" \
                and svc.vip_interface not in interfaces.get(svc.director, set()):
            col.add((*path, "vip_interface"), f"node {svc.director!r} has no interface {svc.vip_interface!r}")
        if not svc.real_servers:
            col.add((*path, "real_servers"), "a virtual service needs at least one real server")
        director_nets = [c.network for c in connected.get(svc.director, []) if c.network.prefixlen < c.max_prefixlen]
        for j, rs in enumerate(svc.real_servers):
            if rs is None:
                continue
            rpath: PathKey = (*path, "real_servers", j)
            mode = rs.mode or svc.mode
            if rs.node not in topo.nodes:
                close = difflib.get_close_matches(rs.node, list(topo.nodes), n=1)
                col.add((*rpath, "node"), f"unknown node {rs.node!r}",
                        f"did you mean {close[0]!r}?" if close else f"nodes are: {', '.join(topo.nodes)}")
                continue
            if rs.node == svc.director:
                col.add((*rpath, "node"), "the director cannot be its own real server in this model",
                        "use a separate node")
            if rs.port is not None and svc.port and rs.port != svc.port and mode != "nat":
                col.add((*rpath, "port"), f"{mode.upper()} cannot change the port ({svc.port} → {rs.port})",
                        "DR and TUN deliver the packet unchanged; only NAT rewrites the port")
            rs_nets = [c.network for c in connected.get(rs.node, []) if c.network.prefixlen < c.max_prefixlen]
            shared = set(director_nets) & set(rs_nets)
            # NAT to a routed real server (a pod on another node) is fine when the director has a route to it
            routed = mode == "nat" and _routed(topo, svc.director, rs.address, connected.get(rs.node, []))
            if mode in ("dr", "nat") and not shared and not routed and svc.director in topo.nodes:
                why = ("DR rewrites only the destination MAC, so the real server must be on the director's own "
                       "segment") if mode == "dr" else ("NAT real servers route their replies back through the "
                                                        "director, so they need a subnet in common")
                col.add((*rpath, "node"), f"{rs.node} shares no subnet with director {svc.director} ({mode})", why)
            if rs.address is not None:
                try:
                    ipaddress.ip_address(rs.address)
                    if "%" in rs.address:
                        col.add((*rpath, "address"), f"{rs.address!r} has a scope id (%…)", "write the address alone")
                except ValueError:
                    col.add((*rpath, "address"), f"{rs.address!r} is not an IP address")
            if vip is not None and rs.address is None and not rs_nets:
                col.add(rpath, f"real server {rs.node} has no address the director could use",
                        "give it an interface address, or set `address:`")


def _routed(topo: Topology, director: str, address: str | None, connected: list[ipaddress.IPv4Interface
                                                                             | ipaddress.IPv6Interface]) -> bool:
    """True if one of the director's topology routes covers the real server's address: a NAT real server may sit
    behind a router (a pod on another node, as kube-proxy's endpoints do) as long as the director routes to it;
    whether its replies come back through the director is then the lab's to prove (a probe), not validate's."""
    node = topo.nodes.get(director)
    if node is None:
        return False
    targets = []
    for text in ([address] if address else [str(c.ip) for c in connected]):
        try:
            targets.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    for route in node.routes:
        key = route_key(route) if route is not None else None
        if key is not None and key[1].prefixlen > 0 and any(t.version == key[0] and t in key[1] for t in targets):
            return True  # a default route proves nothing about this server: only a route to its network does
    return False


def vips(topo: Topology) -> dict[str, set[IP]]:
    """Addresses netlab gives nodes for their IPVS roles (the VIP on the director and on DR/TUN real servers):
    a route may use them as ``src``."""
    found: dict[str, set[IP]] = {}
    for svc in topo.ipvs:
        if svc is None or svc.vip is None or "%" in svc.vip:
            continue
        try:
            vip = ipaddress.ip_address(svc.vip)
        except ValueError:
            continue
        found.setdefault(svc.director, set()).add(vip)
        for rs in svc.real_servers:
            if rs is not None and (rs.mode or svc.mode) in ("dr", "tun"):
                found.setdefault(rs.node, set()).add(vip)
    return found


def check_derived(topo: Topology, ends: list[tuple[Endpoint, PathKey, str]], col: Collector) -> None:
    """Routes and VIP addresses netlab derives for IPVS roles, against what the topology already has: a NAT real
    server's derived default route against a route to 0.0.0.0/0, a director's VIP against the same address on
    the same interface (EEXIST either way). Run on a lab with no other problem, where deriving is safe."""
    from netlab.features.ipvs.derive import derive_settings

    iface_map: dict[str, list[tuple[str, tuple[str, ...]]]] = {n: [] for n in topo.nodes}
    for ep, _path, ifname in ends:
        iface_map[ep.node].append((ifname, ep.address))
    derived: dict[str, dict[RouteKey, str]] = {}
    for d in derive_settings(topo, iface_map):
        if d.overridden:
            continue
        if d.kind == "route":
            family = 6 if ":" in d.value else 4
            key = (family, ipaddress.ip_network("::/0" if family == 6 else "0.0.0.0/0"), 0 if family == 4 else 1024)
            derived.setdefault(d.node, {})[key] = d.reason
        elif d.kind == "address":
            vip = ipaddress.ip_interface(d.target)
            for ifname, addrs in iface_map.get(d.node, []):
                for k, text in enumerate(addrs):
                    have = ipaddress.ip_interface(text)
                    if ifname == d.value and have.ip == vip.ip and (vip.version == 6 or have == vip):
                        path = next(p for e, p, name in ends if e.node == d.node and name == ifname)
                        col.add((*path, "address", k) if len(addrs) > 1 else (*path, "address"),
                                f"{have} is the IPVS VIP, which netlab adds to {ifname} itself",
                                f"{d.reason} -- the kernel would answer EEXIST; remove this address or "
                                "set the service's `vip_interface`")
    for name, node in topo.nodes.items():
        check_derived_routes(name, node, derived.get(name, {}), col)
