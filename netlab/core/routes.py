"""The route checks of validate: what a node's ``routes:`` ask that the kernel would refuse.

Why each rule: a route is sent to the kernel as one RTM_NEWROUTE with NLM_F_EXCL, after every address is in
place. The kernel then refuses a route it already has -- the same destination and metric twice
(``default`` is ``0.0.0.0/0``), or the prefix route it added itself for an address's subnet (metric 0 in
IPv4, 256 in IPv6) -- a gateway the route's interface cannot reach, an IPv4 broadcast or an own IPv6
address as gateway, a link-local gateway without an interface, and a preferred source (``src``) the node
does not have. Each is reported here, with its data path, before anything exists.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from netlab.core.kernel_limits import IPV6_METRIC_CONNECTED, IPV6_METRIC_DEFAULT, IPV6_MIN_MTU

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.core.facts import NodeFacts
    from netlab.model.topology import Node, Route

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network
RouteKey = tuple[int, Net, int]
"""(family, destination, metric): what the kernel tells routes of its main table apart by."""
LINK_LOCAL = ipaddress.ip_network("fe80::/64")


def route_key(route: Route) -> RouteKey | None:
    """The kernel's identity of ``route`` (None if its ``to`` does not parse): ``default`` is IPv6 when its
    ``via`` is (as resolve decides), and an IPv6 metric of 0 is the kernel's default, 1024."""
    if route.to == "default":
        family = 6 if route.via and ":" in route.via else 4
        net: Net = ipaddress.ip_network("::/0" if family == 6 else "0.0.0.0/0")
    else:
        try:
            net = ipaddress.ip_network(route.to, strict=False)
        except ValueError:
            return None
        family = net.version
    metric = route.metric or 0
    if family == 6 and metric == 0:
        metric = IPV6_METRIC_DEFAULT
    return family, net, metric


def connected_routes(facts: NodeFacts, ipv6: bool) -> dict[RouteKey, str]:
    """The routes the kernel adds to the main table by itself, with what made each: an IPv4 address's subnet
    (not on lo, whose prefixes go to the local table), every IPv6 address's prefix (/128 too, lo too), and
    fe80::/64 on every interface once IPv6 is on."""
    found: dict[RouteKey, str] = {}
    for ifname, addr in facts.all_addresses():
        ip = addr.ip
        if ip.is_unspecified or ip.is_multicast or ip.is_loopback:
            continue
        if addr.version == 4 and ifname != "lo" and addr.network.prefixlen < 32 and int(addr.network.network_address):
            found.setdefault((4, addr.network, 0), f"the subnet of {addr} on {ifname}")
        elif addr.version == 6:
            found.setdefault((6, addr.network, IPV6_METRIC_CONNECTED), f"the prefix of {addr} on {ifname}")
    if ipv6 and any(name not in ("lo", "tunl0") for name in facts.mtu):
        found.setdefault((6, LINK_LOCAL, IPV6_METRIC_CONNECTED), "every interface's link-local address")
    return found


def _ip(text: str, path: PathKey, what: str, col: Collector) -> IP | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        col.add(path, f"{text!r} is not an IP address", f"{what}: a single address, e.g. 10.0.1.1 or 2001:db8::1")
        return None
    if "%" in text:
        col.add(path, f"{text!r} has a scope id (%…)", "write the address alone; the route's `dev` says the link")
        return None
    return ip


def check_routes(name: str, node: Node, facts: NodeFacts, interfaces: set[str], ipv6: bool,
                 local_extra: set[IP], col: Collector) -> None:
    """Every problem of node ``name``'s routes. ``local_extra``: addresses the node gets besides its own
    (IPVS VIPs)."""
    seen: dict[RouteKey, PathKey] = {}
    connected = connected_routes(facts, ipv6)
    subnets = {(ifname, addr.network) for ifname, addr in facts.all_addresses()
               if addr.network.prefixlen < addr.network.max_prefixlen}
    own = {addr.ip for _i, addr in facts.all_addresses()} | local_extra
    table6 = Table6(facts, ipv6)
    for k, route in enumerate(node.routes):
        if route is None:  # shape error, already reported
            continue
        path: PathKey = ("nodes", name, "routes", k)
        to = route.to
        if to != "default":
            try:
                ipaddress.ip_network(to, strict=True)
                if "%" in to:
                    col.add((*path, "to"), f"{to!r} has a scope id (%…)", "write the prefix alone")
            except ValueError:
                try:
                    ipaddress.ip_network(to, strict=False)
                    col.add((*path, "to"), f"{to!r} has host bits set",
                            f"did you mean {ipaddress.ip_network(to, strict=False)}?")
                except ValueError:
                    col.add((*path, "to"), f"{to!r} is not a prefix", "example: 10.0.2.0/24 or default")
        key = route_key(route) if "%" not in to else None
        if route.dev is not None and route.dev not in interfaces and route.dev != "lo":
            col.add((*path, "dev"), f"node {name!r} has no interface {route.dev!r}",
                    f"its interfaces: {', '.join(sorted(interfaces)) or 'none'}")
        elif route.dev is not None and key is not None and key[0] == 6 \
                and facts.mtu.get(route.dev, IPV6_MIN_MTU) < IPV6_MIN_MTU:
            col.add((*path, "dev"), f"{route.dev} has no IPv6: its MTU {facts.mtu[route.dev]} is below {IPV6_MIN_MTU}",
                    f"the kernel removes IPv6 from such an interface (ENODEV); raise its MTU to {IPV6_MIN_MTU}")
        if route.via is None and route.dev is None and id(route) not in col.incomplete:
            col.add(path, "a route needs `via` (a gateway) or `dev` (an interface)")
        if route.via is not None and not _check_via(name, route, key, subnets, own, col, path, facts):
            continue
        if route.via is not None and key is not None and key[0] == 6 and ":" in route.via:
            table6.check_gateway(ipaddress.IPv6Address(route.via), (*path, "via"), col)  # parsed by _check_via
        if route.src is not None and key is not None:
            _check_src(name, route, key[0], own, col, (*path, "src"))
        if key is None:
            continue
        family, net, metric = key
        shown = "default" if route.to == "default" else str(net)
        if key in seen:
            col.add(path, f"the same route as {_where(seen[key], col)}: {shown} with metric {metric}",
                    "the kernel keeps one route per destination and metric and answers EEXIST to the second"
                    + (" (`default` is 0.0.0.0/0, or ::/0 with an IPv6 `via`)" if net.prefixlen == 0 else "")
                    + "; remove one, or give them different metrics")
        elif key in connected:
            col.add(path, f"the kernel already has the route {shown} (metric {metric}): {connected[key]}",
                    "it adds that route itself when the address is added, and answers EEXIST to this one; "
                    + ("remove the route, or give it a metric ≥ 1 to add a second, less preferred one"
                       if family == 4 else f"remove the route, or give it a metric other than {metric}"))
        seen.setdefault(key, path)
        if family == 6:
            table6.add(net, metric, route.via is not None, route.dev, path)


class Table6:
    """A node's IPv6 main table as its routes are added in order, to look gateways up as the kernel does.

    Why: an IPv6 route's gateway must be reachable *directly*. The kernel looks the gateway up (longest prefix,
    then lowest metric) and refuses the route (EHOSTUNREACH) if what it finds is itself a route through a
    gateway -- e.g. an earlier ``2001:db8:1::/64 via 2001:db8:1::2 metric 100`` beats the connected route
    (metric 256) to every address of that subnet -- or a prefix on lo. IPv4 looks only at routes of link
    scope there, so it has no such trap (measured on 6.18: both cases pass in IPv4).
    """

    def __init__(self, facts: NodeFacts, ipv6: bool) -> None:
        self.routes: list[tuple[Net, int, bool, str | None, PathKey | None]] = []
        for ifname, addr in facts.all_addresses():
            if addr.version == 6 and not (addr.ip.is_loopback or addr.ip.is_multicast or addr.ip.is_unspecified):
                self.routes.append((addr.network, IPV6_METRIC_CONNECTED, False, ifname, None))
        if ipv6:
            self.routes += [(LINK_LOCAL, IPV6_METRIC_CONNECTED, False, i, None) for i in facts.mtu if i != "lo"]

    def add(self, net: Net, metric: int, via: bool, dev: str | None, path: PathKey) -> None:
        self.routes.append((net, metric, via, dev, path))

    def check_gateway(self, gw: ipaddress.IPv6Address, path: PathKey, col: Collector) -> None:
        found = [r for r in self.routes if gw in r[0]]
        if not found:
            return  # reported as "not in any subnet"
        best = min(found, key=lambda r: (-r[0].prefixlen, r[1]))
        net, metric, via, dev, where = best
        if not via and dev != "lo":
            return
        what = f"{_where(where, col, f'{net}, metric {metric}')}" if where else f"{net} on lo"
        col.add(path, f"the kernel would reach gateway {gw} through {what}, not directly",
                ("an IPv6 gateway must be on a directly connected route, and the kernel refuses the route "
                 "(EHOSTUNREACH); give that route a metric above 256 (the connected route's), or put the "
                 "gateway on a link") if via else
                "a gateway behind lo reaches nothing, and the kernel refuses the route (EHOSTUNREACH); put the "
                "gateway on a link")


def check_derived_routes(name: str, node: Node, derived: dict[RouteKey, str], col: Collector) -> None:
    """Routes of the node that are the same as one netlab derives for its IPVS role (EEXIST at ``up``)."""
    for k, route in enumerate(node.routes):
        key = route_key(route) if route is not None else None
        if key is not None and key in derived:
            col.add(("nodes", name, "routes", k), f"netlab adds this route on {name} itself: {derived[key]}",
                    "write it as `to: default` to replace netlab's route, or give this one a metric ≥ 1")


def _where(path: PathKey, col: Collector, more: str = "") -> str:
    """``nodes.a.routes[0] (line 7)`` -- another item, named so that the reader finds it."""
    from netlab.core.diagnostics import format_path

    line = col.loaded.line_of(path)
    inside = ", ".join(x for x in (f"line {line}" if line else "", more) if x)
    return format_path(path) + (f" ({inside})" if inside else "")


def _check_via(name: str, route: Route, key: RouteKey | None, subnets: set[tuple[str, Net]], own: set[IP],
               col: Collector, path: PathKey, facts: NodeFacts) -> bool:
    """The gateway's problems; False if it does not even parse (nothing more to say about the route)."""
    assert route.via is not None
    gw = _ip(route.via, (*path, "via"), "the gateway", col)
    if gw is None:
        return False
    to = route.to
    if to != "default":
        try:
            if ipaddress.ip_network(to, strict=False).version != gw.version:
                col.add((*path, "via"), f"gateway {gw} and destination {to} are different IP versions")
                return True
        except ValueError:
            pass
    on = [(ifname, net) for ifname, net in subnets if gw in net]
    if not on:
        col.add((*path, "via"), f"gateway {gw} is not in any subnet of node {name!r}",
                "the gateway must be reachable on one of the node's links or LANs")
        return True
    if route.dev is not None and route.dev in facts.mtu and not any(ifname == route.dev for ifname, _n in on):
        theirs = sorted(str(net) for ifname, net in subnets if ifname == route.dev)
        col.add((*path, "via"), f"gateway {gw} is not on {route.dev}",
                f"it is in {', '.join(sorted({str(n) for _i, n in on}))} on {', '.join(sorted({i for i, _n in on}))}; "
                f"{route.dev} has {', '.join(theirs) or 'no subnet'}; the kernel refuses a gateway the route's "
                "interface cannot reach (EINVAL): drop `dev`, or fix it")
    if gw.is_multicast or gw == ipaddress.IPv4Address("255.255.255.255"):
        col.add((*path, "via"), f"gateway {gw} is a multicast or broadcast address",
                "the kernel refuses it as a gateway (EINVAL); the gateway is the neighbour's unicast address")
    elif gw.version == 4 and any(gw == net.broadcast_address and net.prefixlen < 31 for _i, net in on):
        col.add((*path, "via"), f"gateway {gw} is the broadcast address of its subnet",
                "the kernel refuses a broadcast address as gateway (EINVAL); use the router's address")
    if gw.version == 6 and gw in own:
        col.add((*path, "via"), f"gateway {gw} is an address of node {name!r} itself",
                "the kernel refuses a local IPv6 gateway (EINVAL); the gateway is the neighbour that forwards")
    if gw.version == 6 and gw.is_link_local and route.dev is None:
        col.add((*path, "via"), f"link-local gateway {gw} needs `dev`",
                "fe80:: addresses exist on every link, so the kernel must be told which (EINVAL: egress device "
                "not specified)")
    return True


def _check_src(name: str, route: Route, family: int, own: set[IP], col: Collector, path: PathKey) -> None:
    """``src`` (RTA_PREFSRC) is an address of the node, of the route's family, that the kernel takes as one."""
    assert route.src is not None
    src = _ip(route.src, path, "the preferred source", col)
    if src is None:
        return
    if src.version != family:
        why = " (a `default` route without an IPv6 `via` is IPv4)" if route.to == "default" else ""
        col.add(path, f"src {src} is IPv{src.version}, the route is IPv{family}{why}",
                f"the kernel reads the preferred source of an IPv{family} route as an IPv{family} address and "
                f"refuses (EINVAL) or misreads any other; use one of the node's IPv{family} addresses")
        return
    mine = sorted((a for a in own if a.version == family), key=int)
    if family == 4:
        ok = src in own or src in ipaddress.ip_network("127.0.0.0/8")
    else:
        ok = src in own and not src.is_link_local and not src.is_loopback
    if not ok:
        usable = [str(a) for a in mine if family == 4 or not (a.is_link_local or a.is_loopback)]
        scoped = src.version == 6 and (src.is_link_local or src.is_loopback)
        col.add(path, f"src {src} is a link-local or loopback address" if scoped else
                f"src {src} is not an address of node {name!r}",
                "the kernel refuses a preferred source the node does not have (EINVAL); "
                + (f"its IPv{family} addresses: {', '.join(usable)}" if usable else
                   f"it has no IPv{family} address to use"))
