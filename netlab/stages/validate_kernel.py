"""Checks of validate that know what the kernel will refuse: interfaces' MTUs and addresses, MACs, LAN sizes,
NUL bytes, a table named inside an iptables rule, and the facts they share with the route and sysctl checks.

Why they exist: each rule here is something a topology of the right *shape* can ask and the kernel will
not do -- a multicast MAC, ``::`` as an address, IPv6 on an interface below 1280 bytes, ``127.0.0.1/8`` on
``lo`` (it has it), a LAN of 1024 ports -- found by a tester because ``validate`` said yes and ``up``
failed half-way (rolled back). Every rule names what the kernel would do and what to write instead; the
facts behind them are in :mod:`netlab.stages.kernel_limits`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netlab.features.iptables import rules as iptables_checks
from netlab.features.iptables.model import Iptables
from netlab.features.tunnels.resolve import FALLBACK_DEVICES, split_parent, subinterface_names, tunnel_ifnames
from netlab.model.topology import Topology
from netlab.stages.kernel_limits import BRIDGE_MAX_PORTS, DEFAULT_MTU, IPV6_MIN_MTU, RESERVED_IFNAMES

if TYPE_CHECKING:
    from netlab.stages.load import PathKey
    from netlab.stages.validate import Collector

Addr = ipaddress.IPv4Interface | ipaddress.IPv6Interface
MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


@dataclass
class NodeFacts:
    """What one node's namespace will hold, as far as the well-formed parts of a topology say."""

    mtu: dict[str, int] = field(default_factory=lambda: {"lo": DEFAULT_MTU["lo"]})
    """Every interface's MTU when sysctls are written (before bridge ports join their bridge)."""
    final_mtu: dict[str, int] = field(default_factory=lambda: {"lo": DEFAULT_MTU["lo"]})
    """…and once the lab is up (a node bridge without an MTU of its own takes the smallest of its ports')."""
    addresses: dict[str, list[tuple[Addr, PathKey]]] = field(default_factory=dict)
    """Parsable addresses by interface (``loopback:`` under ``lo``), with their data paths."""

    def all_addresses(self) -> Iterator[tuple[str, Addr]]:
        for ifname, addrs in self.addresses.items():
            for addr, _path in addrs:
                yield ifname, addr


def _parsed(texts: tuple[str, ...], path: PathKey, loopback: bool = False) -> list[tuple[Addr, PathKey]]:
    out = []
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            continue
        apath = (*path, k) if len(texts) > 1 else path
        if ("/" not in text and not loopback) or "%" in text:  # reported by validate's own parse
            continue
        try:
            out.append((ipaddress.ip_interface(text), apath))
        except ValueError:
            continue
    return out


def lab_uses_ipv6(topo: Topology) -> bool:
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
        texts += [a for s in node.subinterfaces if s is not None for a in s.address]
        texts += [a for b in node.bridges.values() if b is not None for a in b.address]
    for t in topo.tunnels:
        texts += [a for end in (getattr(t, "a", None), getattr(t, "b", None)) if end is not None for a in end.address]
    return any(":" in a for a in texts if isinstance(a, str))


def node_facts(topo: Topology, names: Mapping[PathKey, str], tunl0: Mapping[str, set[str]]) -> dict[str, NodeFacts]:
    """Interfaces, MTUs and addresses of every node. ``names``: the link and LAN interfaces' names (validate's
    ``default_interface_names``); ``tunl0``: nodes that get the kernel's tunl0 (IPVS TUN real servers)."""
    facts = {name: NodeFacts() for name in topo.nodes}

    def add(node: str, ifname: str, mtu: int, addresses: list[tuple[Addr, PathKey]]) -> None:
        if node in facts:
            facts[node].mtu[ifname] = facts[node].final_mtu[ifname] = mtu
            facts[node].addresses.setdefault(ifname, []).extend(addresses)

    for i, link in enumerate(topo.links):
        for end in ("a", "b"):
            ep = getattr(link, end, None)
            if ep is not None and ("links", i, end) in names:
                add(ep.node, names[("links", i, end)], ep.mtu or link.mtu or DEFAULT_MTU["veth"],
                    _parsed(ep.address, ("links", i, end, "address")))
    for lan_name, lan in topo.lans.items():
        for j, m in enumerate(getattr(lan, "members", ())):
            path = ("lans", lan_name, "members", j)
            if m is not None and path in names:
                add(m.node, names[path], m.mtu or lan.mtu or DEFAULT_MTU["veth"],
                    _parsed(m.address, (*path, "address")))
    for name, node in topo.nodes.items():
        facts[name].addresses.setdefault("lo", []).extend(_parsed(node.loopback, ("nodes", name, "loopback"), True))
    for node_name in tunl0:
        add(node_name, "tunl0", DEFAULT_MTU["tunl0"], [])
    tnames = tunnel_ifnames(topo)
    for i, t in enumerate(topo.tunnels):
        for side in ("a", "b"):
            tend = getattr(t, side, None) if t is not None else None
            if t is not None and tend is not None and (i, side) in tnames:
                add(tend.node, tnames[(i, side)], t.mtu or DEFAULT_MTU[t.kind],
                    _parsed(tend.address, ("tunnels", i, side, "address")))
    snames = subinterface_names(topo)
    for name, node in topo.nodes.items():
        for j, sub in enumerate(node.subinterfaces):
            if sub is None or (name, j) not in snames:
                continue
            pnode, pif = split_parent(sub.parent, name)
            parent_mtu = facts[pnode].mtu.get(pif, DEFAULT_MTU["veth"]) if pnode in facts else DEFAULT_MTU["veth"]
            add(name, snames[(name, j)], sub.mtu or parent_mtu,
                _parsed(sub.address, ("nodes", name, "subinterfaces", j, "address")))
        for br_name, br in node.bridges.items():
            if br is None:
                continue
            ports = [facts[name].mtu[m] for m in br.members if m in facts[name].mtu]
            add(name, br_name, br.mtu or DEFAULT_MTU["bridge"],
                _parsed(br.address, ("nodes", name, "bridges", br_name, "address")))
            facts[name].final_mtu[br_name] = br.mtu or min(ports, default=DEFAULT_MTU["bridge"])
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


def mac_problem(mac: str) -> tuple[str, str] | None:
    """Why the kernel would refuse ``mac`` for an interface (EADDRNOTAVAIL: ``is_valid_ether_addr``), or None."""
    if not MAC.fullmatch(mac):
        return f"{mac!r} is not a MAC address", "example: 02:00:00:00:00:01"
    if int(mac[:2], 16) & 1:  # broadcast too
        return (f"{mac} is a multicast MAC address",
                "the first byte must be even (02:... is a safe locally administered choice)")
    if int(mac.replace(":", ""), 16) == 0:
        return f"{mac} is the all-zero MAC address", ("the kernel refuses it for an interface (EADDRNOTAVAIL); "
                                                      "02:00:00:00:00:01 is a safe locally administered choice")
    return None


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
    from netlab.stages.load import format_path

    return format_path(path)


def check_sizes(topo: Topology, facts: dict[str, NodeFacts], col: Collector) -> None:
    """Bridges of more ports than the kernel takes; node names a LAN would make reserved port names;
    sub-interfaces larger than their parent."""
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
    for name, node in topo.nodes.items():
        for br_name, br in node.bridges.items():
            if br is not None and len(br.members) > BRIDGE_MAX_PORTS:
                col.add(("nodes", name, "bridges", br_name, "members"),
                        f"a Linux bridge takes at most {BRIDGE_MAX_PORTS} ports", "split the members over bridges")
        for j, sub in enumerate(node.subinterfaces):
            if sub is None or sub.mtu is None:
                continue
            pnode, pif = split_parent(sub.parent, name)
            parent = facts[pnode].mtu.get(pif) if pnode in facts else None
            if parent is not None and sub.mtu > parent:
                col.add(("nodes", name, "subinterfaces", j, "mtu"), f"MTU {sub.mtu} is larger than its parent "
                        f"{pnode}:{pif}'s ({parent})", f"the kernel refuses a {sub.kind} larger than its parent "
                        "(EINVAL); lower it, or raise the parent's")


IPTABLES_PROTOCOLS = frozenset({"tcp", "sctp", "udp", "udplite", "icmp", "icmpv6", "ipv6-icmp", "esp", "ah",
                                "ipv6-mh", "mh", "all"})
"""The protocol names iptables knows itself (libxtables' chain_protos); others it looks up in /etc/protocols."""
_FREE_TEXT = ("--comment", "--log-prefix", "--nflog-prefix")


def check_iptables_tables(node: str, ipt: Iptables, col: Collector) -> None:
    """What features.iptables.rules lets through and iptables-restore refuses, found by fuzzing: a rule that names
    its table as ``--table=nat``, ``--tab nat`` or ``-tnat`` (the table comes from the payload's ``*table``
    line, and a table named in a rule is refused), and ``-p NAME`` with a protocol iptables does not know
    (``unknown protocol "icmype" specified``). Either failed ``up`` after building the lab."""
    import shlex

    for table, spec in ipt.tables():
        for k, item in enumerate(spec.rules):
            if item is None:
                continue
            rule = iptables_checks.rule_text(item)[0]
            path: PathKey = ("nodes", node, "iptables", table, "rules", k)
            where = path if isinstance(item, str) else (*path, "rule")
            try:
                tokens = shlex.split(rule)
            except ValueError:
                continue  # reported by netlab.features.iptables.rules
            for i, tok in enumerate(tokens):
                if i and tokens[i - 1] in _FREE_TEXT:
                    continue
                if tok not in ("-t", "--table") and re.fullmatch(r"--ta(b(le?)?)?(=.*)?|-t[a-z]+", tok):
                    named = tok.partition("=")[2] if "=" in tok else tok[2:] if not tok.startswith("--") else \
                        tokens[i + 1] if i + 1 < len(tokens) else "TABLE"
                    col.add(where, "a rule cannot name its table",
                            f"put it under the `{named}:` key (iptables-restore takes the table from the "
                            "payload's *table line and refuses a table named in a rule)")
                    break
                if tok in ("-p", "--protocol", "--proto") and i + 1 < len(tokens):
                    name = tokens[i + 2] if tokens[i + 1] == "!" and i + 2 < len(tokens) else tokens[i + 1]
                    if not _known_protocol(name):
                        col.add(where, f"iptables knows no protocol {name!r}",
                                "iptables-restore refuses the rule (unknown protocol); use tcp, udp, icmp, sctp, "
                                "all, a name from /etc/protocols or a number 0-255")
                        break


def _known_protocol(name: str) -> bool:
    """As iptables parses ``-p`` (lower-cased first): a number, one of its own names, or a name /etc/protocols has
    (getprotobyname, as iptables itself looks it up, in the same file system)."""
    import socket

    name = name.lower()
    if name.isdigit():
        return int(name) <= 255
    if name in IPTABLES_PROTOCOLS:
        return True
    try:
        socket.getprotobyname(name)
    except OSError:
        return False
    return True
