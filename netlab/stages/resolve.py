"""Stage 3, resolve: defaults, kernel names and interface indexes.

Choices made here, and why:

* Namespaces are ``nl-<lab>.<node>`` (and ``nl-<lab>.<lan>`` for a LAN's bridge), so two labs with
  the same node names can be up at once and ``ip netns`` shows whose namespace is whose
  (netlab.naming: the dot never occurs in a lab name, so two labs cannot collide).
* Interface indexes are picked up front (from :data:`FIRST_INDEX` per namespace): the plan can then
  address every interface by index, and apply never asks the kernel "what index did eth0 get?".
  We start above the indexes a full kernel hands out to its per-namespace fallback devices
  (``tunl0``, ``gre0``, ``sit0``, ``ip6tnl0``, … appear in every new namespace once their modules
  are loaded).
* A LAN's bridge is ``br0`` in the LAN's namespace, and its ports are named after the member nodes,
  so ``ip -n nl-lan.lan1 link`` reads as a list of who is plugged in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from netlab.core.diagnostics import PathKey, format_path
from netlab.features.base import ResolveContext, node_fields, with_parts
from netlab.features.registry import FEATURES
from netlab.model.resolved import (
    BridgePort,
    Peer,
    ResolvedInterface,
    ResolvedLab,
    ResolvedLan,
    ResolvedNode,
    ResolvedRoute,
)
from netlab.model.topology import Endpoint, Topology
from netlab.naming import netns_name
from netlab.stages.validate import default_interface_names

FIRST_INDEX = 32


def _sysctl_value(value: int | str) -> str:
    return str(value)


def _iface_sysctls(ifname: str, ep: Endpoint) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in ep.sysctls.items():
        if key.startswith("ipv6."):
            out.append((f"net.ipv6.conf.{ifname}.{key[5:]}", _sysctl_value(value)))
        else:
            out.append((f"net.ipv4.conf.{ifname}.{key}", _sysctl_value(value)))
    return tuple(out)


def _uses_ipv6(topo: Topology) -> bool:
    ends = [ep for link in topo.links for ep in (link.a, link.b)]
    ends += [m for lan in topo.lans.values() for m in lan.members]
    addrs = [a for ep in ends for a in ep.address] + [a for n in topo.nodes.values() for a in n.loopback]
    addrs += [a for f in FEATURES if f.addresses is not None for a in f.addresses(topo)]
    routes = [r.to for n in topo.nodes.values() for r in n.routes] + [
        r.via or "" for n in topo.nodes.values() for r in n.routes]
    return any(":" in a for a in addrs + routes)


def resolve(topo: Topology, source: str, lines: Mapping[PathKey, int] | None = None) -> ResolvedLab:
    """Turn a validated topology into a fully specified lab. ``lines`` (the loaded file's line of every data
    path) lets iptables errors at ``up`` name the rule's file:line."""
    names = default_interface_names(list(enumerate(topo.links)), dict(topo.lans))
    next_index: dict[str, int] = {}

    def take(netns: str) -> int:
        index = next_index.get(netns, FIRST_INDEX)
        next_index[netns] = index + 1
        return index

    node_ifaces: dict[str, list[ResolvedInterface]] = {name: [] for name in topo.nodes}
    lans: list[ResolvedLan] = []

    for i, link in enumerate(topo.links):
        ends = ((link.a, ("links", i, "a")), (link.b, ("links", i, "b")))
        ns = [netns_name(topo.name, ep.node) for ep, _ in ends]
        idx = [take(n) for n in ns]
        ifn = [names[path] for _, path in ends]
        mtus = [ep.mtu or link.mtu for ep, _ in ends]
        for me, other in ((0, 1), (1, 0)):
            ep = ends[me][0]
            node_ifaces[ep.node].append(ResolvedInterface(
                name=ifn[me], index=idx[me], addresses=ep.address, mtu=mtus[me], mac=ep.mac,
                sysctls=_iface_sysctls(ifn[me], ep),
                peer=Peer(ns[other], ifn[other], idx[other], ends[other][0].mac, mtus[other]),
                segment=f"links[{i}]"))

    for lan_name, lan in topo.lans.items():
        lan_ns = netns_name(topo.name, lan_name)
        bridge_index = take(lan_ns)
        ports: list[BridgePort] = []
        used: set[str] = {"lo", "br0"}  # names the LAN namespace already has
        for j, member in enumerate(lan.members):
            port = member.node
            n = 1
            while port in used:  # a node on a LAN twice, or named like lo/br0: node-1, node-2 …
                port = f"{member.node[:12]}-{n}"
                n += 1
            used.add(port)
            port_index = take(lan_ns)
            ports.append(BridgePort(port, port_index, member.node))
            ifname = names[("lans", lan_name, "members", j)]
            node_ns = netns_name(topo.name, member.node)
            mtu = member.mtu or lan.mtu
            node_ifaces[member.node].append(ResolvedInterface(
                name=ifname, index=take(node_ns), addresses=member.address, mtu=mtu, mac=member.mac,
                sysctls=_iface_sysctls(ifname, member),
                peer=Peer(lan_ns, port, port_index, None, lan.mtu or mtu),
                segment=f"lans.{lan_name}"))
        lans.append(ResolvedLan(lan_name, lan_ns, "br0", bridge_index, lan.mtu, tuple(ports)))

    def origin(path: PathKey) -> str:
        """``lab.yml:31`` for a rule (the file's base name: plans stay the same on every machine)."""
        line = (lines or {}).get(path)
        return f"{Path(source).name}:{line}" if line else format_path(path)

    ctx = ResolveContext(topo=topo, interfaces={n: [(i.name, i.addresses) for i in node_ifaces[n]] for n in topo.nodes},
                         index_of={n: {i.name: i.index for i in node_ifaces[n]} for n in topo.nodes},
                         netns=lambda node: netns_name(topo.name, node), take=take, origin=origin)
    derived = [d for f in FEATURES if f.derive is not None for d in f.derive(ctx)]
    parts: dict[str, object] = {}
    for feature in FEATURES:  # tunnels first: their indexes come right after the links' (goldens pin them)
        if feature.resolve is not None:
            parts.update(feature.resolve(ctx))

    nodes: list[ResolvedNode] = []
    for name, node in topo.nodes.items():
        ifaces = tuple(node_ifaces[name])
        by_name = ctx.index_of[name] | {"lo": 1}
        routes = []
        for route in node.routes:
            if route.to == "default":
                family = 6 if route.via and ":" in route.via else 4
            else:
                family = ipaddress.ip_network(route.to, strict=False).version
            routes.append(ResolvedRoute(
                to=route.to, via=route.via, dev=route.dev,
                dev_index=by_name.get(route.dev) if route.dev else None,
                metric=route.metric, src=route.src, family=family))
        nodes.append(with_parts(ResolvedNode(
            name=name, netns=netns_name(topo.name, name), description=node.description or "",
            interfaces=ifaces,
            loopback=tuple(a if "/" in a else (f"{a}/128" if ":" in a else f"{a}/32") for a in node.loopback),
            sysctls=tuple((k, _sysctl_value(v)) for k, v in node.sysctls.items()),
            routes=tuple(routes), commands=node.commands,
            derived=tuple(d for d in derived if d.node == name)), node_fields(FEATURES, ctx, name, node)))

    ipv6 = topo.ipv6 if topo.ipv6 is not None else _uses_ipv6(topo)
    lab = ResolvedLab(name=topo.name, description=topo.description.strip(), source=source, ipv6=ipv6,
                      requires=topo.requires, nodes=tuple(nodes), lans=tuple(lans),
                      probes=tuple(p.model_dump(mode="json", by_alias=True) for p in topo.probes))
    # the features' parts are fields of ResolvedLab (the composition root declares them; the codec and the
    # golden resolved labs check their types)
    return with_parts(lab, parts)
