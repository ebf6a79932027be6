"""Checks of validate that know what the kernel will refuse: interfaces' MTUs and addresses, MACs, LAN sizes,
NUL bytes, a table named inside an iptables rule, and the facts they share with the route and sysctl checks.

Why they exist: each rule here is something a topology of the right *shape* can ask and the kernel will
not do -- a multicast MAC, ``::`` as an address, IPv6 on an interface below 1280 bytes, ``127.0.0.1/8`` on
``lo`` (it has it), a LAN of 1024 ports -- found by a tester because ``validate`` said yes and ``up``
failed half-way (rolled back). Every rule names what the kernel would do and what to write instead; the
facts behind them are in :mod:`netlab.core.kernel_limits`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from netlab.core.facts import Addr, NodeFacts, parsed_addresses
from netlab.core.kernel_limits import BRIDGE_MAX_PORTS, DEFAULT_MTU, FALLBACK_DEVICES, IPV6_MIN_MTU, RESERVED_IFNAMES
from netlab.model.topology import Topology

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.features.base import Feature



def lab_uses_ipv6(topo: Topology, features: Iterable[Feature]) -> bool:
    """IPv6 on in the lab's namespaces: ``ipv6:``, else whether any address or route is IPv6 (as resolve decides)."""
    if topo.ipv6 is not None:
        return topo.ipv6
    texts: list[str] = []
    for link in topo.links:
        for ep in (getattr(link, "a", None), getattr(link, "b", None)):
            texts += list(ep.address) if ep is not None else []
    for lan in topo.lans.values():
        texts += [a for m in getattr(lan, "members", ()) if m is not None for a in m.address]
    for node in topo.nodes.values():
        texts += list(node.loopback)
        texts += [r.to for r in node.routes if r is not None] + [r.via or "" for r in node.routes if r is not None]
    for feature in features:
        if feature.addresses is not None:
            texts += list(feature.addresses(topo))
    return any(":" in a for a in texts if isinstance(a, str))


def node_facts(topo: Topology, names: Mapping[PathKey, str], features: Iterable[Feature]) -> dict[str, NodeFacts]:
    """Interfaces, MTUs and addresses of every node. ``names``: the link and LAN interfaces' names (validate's
    ``default_interface_names``); each feature adds the interfaces it creates or makes the kernel create."""
    facts = {name: NodeFacts() for name in topo.nodes}

    def add(node: str, ifname: str, mtu: int, addresses: list[tuple[Addr, PathKey]]) -> None:
        if node in facts:
            facts[node].add_interface(ifname, mtu, addresses)

    for i, link in enumerate(topo.links):
        for end in ("a", "b"):
            ep = getattr(link, end, None)
            if ep is not None and ("links", i, end) in names:
                add(ep.node, names[("links", i, end)], ep.mtu or link.mtu or DEFAULT_MTU["veth"],
                    parsed_addresses(ep.address, ("links", i, end, "address")))
    for lan_name, lan in topo.lans.items():
        for j, m in enumerate(getattr(lan, "members", ())):
            path = ("lans", lan_name, "members", j)
            if m is not None and path in names:
                add(m.node, names[path], m.mtu or lan.mtu or DEFAULT_MTU["veth"],
                    parsed_addresses(m.address, (*path, "address")))
    for name, node in topo.nodes.items():
        loopback = parsed_addresses(node.loopback, ("nodes", name, "loopback"), True)
        facts[name].addresses.setdefault("lo", []).extend(loopback)
    for feature in features:
        if feature.facts is not None:
            feature.facts(topo, names, facts)
    return facts


# ---------------------------------------------------------------------------------------------- checks

def check_nul(data: object, col: Collector, path: PathKey = ()) -> None:
    """Every string (and mapping key) with a NUL byte. C strings end there: a name would be cut short, a
    command refused (Python cannot even pass it to exec). Other checks of the same value are muted: they
    would only echo this one."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and "\x00" in key:
                _nul(col, (*path, key))
            check_nul(value, col, (*path, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_nul(value, col, (*path, i))
    elif isinstance(data, str) and "\x00" in data:
        _nul(col, path)


def _nul(col: Collector, path: PathKey) -> None:
    col.add(path, "contains a NUL byte (\\0)", "the kernel and the C library end a string at NUL, so what "
            "follows would be cut off or the call refused; remove it")
    col.muted.add(path)


def check_addresses(facts: dict[str, NodeFacts], col: Collector) -> None:
    """Addresses the kernel refuses, ignores or already has; ``loopback:`` twice; IPv6 below 1280 bytes."""
    for f in facts.values():
        on_lo: dict[object, PathKey] = {}
        for ifname, addrs in f.addresses.items():
            for addr, path in addrs:
                ip = addr.ip
                if ip.is_unspecified:
                    col.add(path, f"{addr} is the unspecified address",
                            "the kernel ignores 0.0.0.0 (no address is added, routes through it fail later); pick "
                            "a host address" if ip.version == 4 else
                            "the kernel refuses :: on an interface (EINVAL); pick a host address")
                elif ip.version == 6 and ip.is_multicast:
                    col.add(path, f"{addr} is a multicast address", "the kernel refuses it on an interface "
                            "(a group is joined, not assigned); pick a unicast address")
                elif ip.version == 4 and (ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255")):
                    col.add(path, f"{addr} is a {'multicast' if ip.is_multicast else 'broadcast'} address",
                            "the kernel would add it, but no route can use it (it refuses it as a gateway, EINVAL), "
                            "and a group is joined, not assigned; pick a unicast address")
                elif ip.version == 6 and ip.is_loopback:
                    col.add(path, "::1 is lo's own address" if ifname == "lo" else "::1 is the loopback address",
                            "lo has ::1 already whenever IPv6 is on (EEXIST)" if ifname == "lo" else
                            "the kernel refuses it on any interface but lo (EADDRNOTAVAIL)")
                elif ifname == "lo" and addr == ipaddress.ip_interface("127.0.0.1/8"):
                    col.add(path, "lo has 127.0.0.1/8 already", "every namespace's lo has it (the kernel answers "
                            "EEXIST); remove it, or add another address such as 127.0.0.2")
                elif ifname == "lo" and ip in on_lo:
                    col.add(path, f"{ip} is on lo twice", f"also at {_fmt(on_lo[ip])}; the kernel answers EEXIST")
                elif ip.version == 6 and f.final_mtu.get(ifname, IPV6_MIN_MTU) < IPV6_MIN_MTU:
                    col.add(path, f"IPv6 address on {ifname}, whose MTU {f.final_mtu[ifname]} is below "
                            f"{IPV6_MIN_MTU}", f"the kernel removes IPv6 from an interface below {IPV6_MIN_MTU} "
                            f"bytes, so the address cannot be added; raise the MTU to at least {IPV6_MIN_MTU}")
                if ifname == "lo":
                    on_lo.setdefault(ip, path)


def _fmt(path: PathKey) -> str:
    from netlab.core.diagnostics import format_path

    return format_path(path)


def check_sizes(topo: Topology, facts: dict[str, NodeFacts], col: Collector) -> None:
    """LANs of more ports than a bridge takes; node names a LAN would make reserved port names."""
    for lan_name, lan in topo.lans.items():
        members = getattr(lan, "members", ())
        if len(members) > BRIDGE_MAX_PORTS:
            col.add(("lans", lan_name, "members"), f"a LAN of {len(members)} members: a Linux bridge takes at most "
                    f"{BRIDGE_MAX_PORTS} ports", "the kernel refuses the next port (EXFULL) after building the "
                    "others; split it into LANs joined by a router node")
        for j, m in enumerate(members):
            if m is not None and m.node in RESERVED_IFNAMES:
                col.add(("lans", lan_name, "members", j, "node"), f"node {m.node!r} cannot be on a LAN",
                        f"its bridge port would be named {m.node!r}, a name the kernel refuses for an interface "
                        "(net.ipv4.conf.all and …default are the namespace's own settings); rename the node")
            elif m is not None and m.node in FALLBACK_DEVICES:
                col.add(("lans", lan_name, "members", j, "node"), f"node {m.node!r} cannot be on a LAN",
                        f"its bridge port would be named {m.node!r}, the name of a fallback device a full kernel "
                        "adds to every namespace (EEXIST); rename the node")
