"""Stage 2, validate: every problem in a topology at once, each with file:line, data path and hint.

Two passes. The *shape* pass is pydantic (unknown keys, wrong types), whose errors we translate into
words a learner understands (:mod:`.validate_shape`). The *meaning* pass checks what a schema cannot:
references to nodes that do not exist, names the kernel would refuse, addresses that collide or whose
ends are not in one subnet, routes whose gateway no interface can reach -- and everything the kernel
would refuse at ``up`` although the shape is right (:mod:`.validate_kernel`, :mod:`.validate_routes`,
:mod:`.validate_sysctls`, with the facts in :mod:`.kernel_limits`): the rule is that a topology
``validate`` accepts comes up, or ``up`` stops before creating anything because the kernel lacks a
feature (exit 4). The meaning pass runs on every item that has the right shape, so one typo does not
hide the other problems of the file.

Nothing here touches the kernel.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterator
from typing import Any

from netlab.core.checks import MAC, interface_name_problem, mac_problem, parse_address
from netlab.core.diagnostics import Collector, LoadedFile, PathKey, format_path
from netlab.core.frozen import frozen
from netlab.core.kernel_limits import FALLBACK_DEVICES
from netlab.core.routes import check_routes
from netlab.errors import InvalidInput
from netlab.features.base import CheckContext
from netlab.features.registry import FEATURES
from netlab.model.topology import Endpoint, Lan, Link, Node, Topology
from netlab.naming import LAB_NAME, LAB_NAME_RULE, NODE_NAME, NODE_NAME_RULE, is_lab_name, is_node_name
from netlab.probes import checks as probe_checks
from netlab.stages import validate_kernel, validate_sysctls
from netlab.stages.validate_shape import parse, partial, salvage
from netlab.stages.validate_sysctls import SYSCTL_KEY

__all__ = ["LAB_NAME", "MAC", "NODE_NAME", "SYSCTL_KEY", "Collector", "default_interface_names",
           "interface_name_problem", "mac_problem", "salvage", "validate"]


# ---------------------------------------------------------------- meaning

@frozen
class _Iface:
    node: str
    name: str
    path: PathKey
    addresses: tuple[tuple[str, PathKey], ...]


def _endpoints(links: list[tuple[int, Link]], lans: dict[str, Lan]) -> Iterator[tuple[Endpoint, PathKey, str]]:
    """Every endpoint with its data path and the segment it is on (for subnet checks)."""
    for i, link in links:
        for end in ("a", "b"):
            ep = getattr(link, end, None)
            if ep is not None:
                yield ep, ("links", i, end), f"links[{i}]"
    for lan_name, lan in lans.items():
        for j, member in enumerate(lan.members):
            if member is not None:
                yield member, ("lans", lan_name, "members", j), f"lans.{lan_name}"


def default_interface_names(links: list[tuple[int, Link]], lans: dict[str, Lan]) -> dict[PathKey, str]:
    """``eth0``, ``eth1``, … per node, in the order its unnamed ends appear (links, then LANs).

    Lives here because validation must check the same names that resolve will create.
    """
    taken: dict[str, set[str]] = {}
    for ep, _path, _seg in _endpoints(links, lans):
        if ep.interface:
            taken.setdefault(ep.node, set()).add(ep.interface)
    names: dict[PathKey, str] = {}
    counters: dict[str, int] = {}
    for ep, path, _seg in _endpoints(links, lans):
        if ep.interface:
            names[path] = ep.interface
            continue
        n = counters.get(ep.node, 0)
        while f"eth{n}" in taken.get(ep.node, set()):
            n += 1
        names[path] = f"eth{n}"
        taken.setdefault(ep.node, set()).add(f"eth{n}")
        counters[ep.node] = n + 1
    return names


def _check_names(lab_name: str | None, nodes: dict[str, Node], lans: dict[str, Lan], col: Collector) -> None:
    if lab_name is not None and not is_lab_name(lab_name):
        col.add(("name",), f"lab name {lab_name!r} cannot be used", LAB_NAME_RULE)
    for name in nodes:
        if not is_node_name(name):
            col.add(("nodes", name), f"node name {name!r} cannot be used", NODE_NAME_RULE)
    for name in lans:
        if not is_node_name(name):
            col.add(("lans", name), f"LAN name {name!r} cannot be used",
                    "1-15 characters: letters, digits, '-' and '_', starting with a letter or digit")
        if name in nodes:
            col.add(("lans", name), f"LAN {name!r} has the name of a node",
                    "a LAN gets a namespace of its own, so LAN and node names must differ")


def _check_addresses(nodes: dict[str, Node], links: list[tuple[int, Link]], lans: dict[str, Lan],
                     col: Collector) -> dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]]:
    """Addresses: parse, host part, duplicates per segment and lab-wide, both ends in one subnet."""
    connected: dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {}
    seen: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, PathKey] = {}
    segments: dict[str, list[tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, PathKey]]] = {}
    for ep, path, segment in _endpoints(links, lans):
        for k, text in enumerate(ep.address):
            apath = (*path, "address", k) if len(ep.address) > 1 else (*path, "address")
            iface = parse_address(text, apath, col)
            if iface is None:
                continue
            net = iface.network
            if net.prefixlen < net.max_prefixlen - 1 and not iface.ip.is_unspecified \
                    and iface.ip in (net.network_address, net.broadcast_address):
                which = "network" if iface.ip == net.network_address else "broadcast"
                col.add(apath, f"{text} is the {which} address of {net}", "pick a host address inside it")
            if iface.ip in seen:
                col.add(apath, f"address {iface.ip} is used twice",
                        f"also at {format_path(seen[iface.ip])} (line {col.loaded.line_of(seen[iface.ip])})")
            else:
                seen[iface.ip] = apath
            connected.setdefault(ep.node, []).append(iface)
            segments.setdefault(segment, []).append((iface, apath))
    for segment, addrs in segments.items():
        for version in (4, 6):
            family = [(a, p) for a, p in addrs if a.version == version]
            if len(family) < 2:
                continue
            first, first_path = family[0]
            for other, other_path in family[1:]:
                if other.network != first.network:
                    col.add(other_path, f"{other} is not in the subnet {first.network} of "
                            f"{format_path(first_path)}",
                            f"all ends on {segment} must share a subnet (same prefix length too)")
    for name, node in nodes.items():
        for k, text in enumerate(node.loopback):
            path = ("nodes", name, "loopback", k) if len(node.loopback) > 1 else ("nodes", name, "loopback")
            iface = parse_address(text, path, col, need_prefix=False)
            if iface is not None:
                connected.setdefault(name, []).append(iface)
    return connected


def _check_endpoints(nodes: dict[str, Node], links: list[tuple[int, Link]], lans: dict[str, Lan],
                     col: Collector) -> dict[str, set[str]]:
    names = default_interface_names(links, lans)
    per_node: dict[str, dict[str, PathKey]] = {}
    for ep, path, _segment in _endpoints(links, lans):
        if ep.node not in nodes:
            close = difflib.get_close_matches(ep.node, list(nodes), n=1)
            col.add((*path, "node"), f"unknown node {ep.node!r}",
                    f"did you mean {close[0]!r}?" if close else f"nodes are: {', '.join(nodes) or 'none'}")
            continue
        ifname = names[path]
        if ep.interface is not None:
            problem = interface_name_problem(ep.interface)
            if problem:
                col.add((*path, "interface"), f"interface name {ep.interface!r} {problem}")
                continue
            if ep.interface == "lo":
                col.add((*path, "interface"), "'lo' is the loopback interface",
                        "use the node's `loopback:` key for addresses on lo")
                continue
            if ep.interface in FALLBACK_DEVICES:
                col.add((*path, "interface"), f"{ep.interface!r} is the name of a kernel fallback device",
                        "a full kernel adds gre0, tunl0, sit0, … to every namespace once the tunnel modules are "
                        "loaded, and would answer EEXIST; pick another name")
                continue
        other = per_node.setdefault(ep.node, {}).get(ifname)
        if other is not None:
            col.add((*path, "interface"), f"node {ep.node!r} already has an interface {ifname!r}",
                    f"also at {format_path(other)}")
        else:
            per_node[ep.node][ifname] = path
        mac = mac_problem(ep.mac) if ep.mac is not None else None
        if mac is not None:
            col.add((*path, "mac"), *mac)
    for i, link in links:
        if link.a is not None and link.b is not None and link.a.node == link.b.node:
            col.add(("links", i), f"both ends are on node {link.a.node!r}", "a link joins two different nodes")
    return {node: set(ifs) for node, ifs in per_node.items()}


def _check_requires(topo: Topology, col: Collector) -> None:
    from netlab.core.catalog import canonical_name, known

    names = known()
    for k, name in enumerate(topo.requires):
        if canonical_name(name) not in names:
            close = difflib.get_close_matches(name, list(names), n=1)
            col.add(("requires", k), f"unknown feature {name!r}",
                    f"did you mean {close[0]!r}?" if close else "`netlab doctor` lists the features netlab knows")


def _check_ipv6_off(topo: Topology, links: list[tuple[int, Link]], lans: dict[str, Lan], col: Collector) -> None:
    """``ipv6: false`` turns IPv6 off in every namespace, so any IPv6 address or route would fail in the kernel."""
    hint = "remove `ipv6: false` (IPv6 is turned on automatically when used)"
    for ep, path, _seg in _endpoints(links, lans):
        if any(":" in a for a in ep.address):
            col.add((*path, "address"), "IPv6 address in a lab with `ipv6: false`", hint)
    for name, node in topo.nodes.items():
        if any(":" in a for a in node.loopback):
            col.add(("nodes", name, "loopback"), "IPv6 address in a lab with `ipv6: false`", hint)
        for k, route in enumerate(node.routes):
            if route is not None and (":" in route.to or ":" in (route.via or "")):
                col.add(("nodes", name, "routes", k), "IPv6 route in a lab with `ipv6: false`", hint)


def _check_kernel(ctx: CheckContext) -> None:
    """What the kernel would refuse although the shape is right: addresses, MTUs, LAN sizes, routes, sysctls."""
    topo, col = ctx.topo, ctx.col
    facts = validate_kernel.node_facts(topo, ctx.names, FEATURES)
    validate_kernel.check_addresses(facts, col)
    validate_kernel.check_sizes(topo, facts, col)
    for feature in FEATURES:
        if feature.check_kernel is not None:
            feature.check_kernel(ctx, facts)
    ipv6 = validate_kernel.lab_uses_ipv6(topo, FEATURES)
    local: dict[str, set[Any]] = {}
    for feature in FEATURES:
        if feature.local_addresses is not None:
            for owner, addrs in feature.local_addresses(topo).items():
                local.setdefault(owner, set()).update(addrs)
    ends_of: dict[str, list[Any]] = {}  # grouped once: a scan of every end per node was O(N^2) (1 s at 3000 nodes)
    for end in ctx.ends:
        ends_of.setdefault(end[0].node, []).append(end)
    for name, node in topo.nodes.items():
        check_routes(name, node, facts[name], ctx.interfaces.get(name, set()), ipv6, local.get(name, set()), col)
        validate_sysctls.check_sysctls(name, node, facts[name], ends_of.get(name, []), col)


def validate(loaded: LoadedFile) -> Topology:
    """Return the typed topology, or raise :class:`InvalidInput` with every problem found.

    The order: the core's names, endpoints and addresses; each feature's checks (in registration order: a
    tunnel's interfaces count for the checks after it); what the kernel would refuse; probes; then, on a lab
    with no other problem, the features' checks of what netlab derives.
    """
    col = Collector(loaded, list(loaded.duplicate_keys))
    if not isinstance(loaded.data, dict):
        col.add((), "a topology file is a mapping with at least `name:` and `nodes:`")
        raise InvalidInput(col.items)
    validate_kernel.check_nul(loaded.data, col)
    parsed = parse(loaded, col)
    topo = parsed if parsed is not None else partial(loaded, col)
    nodes, links, lans = dict(topo.nodes), list(enumerate(topo.links)), dict(topo.lans)
    links = [(i, link) for i, link in links if link is not None]
    lans = {k: v for k, v in lans.items() if v is not None}
    lab_name = loaded.data.get("name") if isinstance(loaded.data.get("name"), str) else None
    _check_names(lab_name, nodes, lans, col)
    names = default_interface_names(links, lans)
    ctx = CheckContext(loaded=loaded, topo=topo, col=col, names=names,
                       interfaces=_check_endpoints(nodes, links, lans, col),
                       connected=_check_addresses(nodes, links, lans, col),
                       ends=[(ep, path, names[path]) for ep, path, _seg in _endpoints(links, lans) if path in names],
                       salvage=lambda model, raw: salvage(model, raw, col))
    for feature in FEATURES:
        if feature.check is not None:
            feature.check(ctx)
    _check_kernel(ctx)
    _check_requires(topo, col)
    probe_checks.check(col, loaded.data, topo, ctx.interfaces)
    if topo.ipv6 is False:
        _check_ipv6_off(topo, links, lans, col)
    if not col.items and parsed is not None:  # deriving settings is safe only on a well-formed lab
        for feature in FEATURES:
            if feature.check_complete is not None:
                feature.check_complete(ctx)
    if col.items:
        col.items.sort(key=lambda d: (d.line or 0, d.path))
        raise InvalidInput(col.items)
    assert parsed is not None
    return parsed
