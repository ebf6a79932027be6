"""From virtual services to what every node needs, each setting with its reason.

IPVS labs fail in ways that teach: a real server that answers ARP for the VIP steals traffic from
the director (the "ARP problem" of DR); a NAT real server whose default route bypasses the director
sends replies nobody un-NATs; a TUN real server drops decapsulated packets because strict
reverse-path filtering sees them arrive on ``tunl0``. So netlab derives these settings from the
roles instead of asking the user to remember them — and attaches the reason to each, shown by
``--dry-run`` and ``status``. A value the topology sets explicitly wins (the ARP-problem lab
relies on that), and the derived one is then reported as overridden.
"""

from __future__ import annotations

import ipaddress

from netlab.core.derived import DerivedSetting, SettingKind
from netlab.features.ipvs.model import VirtualService
from netlab.features.ipvs.resolved import IpvsDest, ResolvedService
from netlab.model.topology import Topology

Interfaces = dict[str, list[tuple[str, tuple[str, ...]]]]
"""node → [(ifname, addresses with prefix)], in order."""


def _shared_address(node: str, other: str, ifaces: Interfaces) -> tuple[str, str] | None:
    """``node``'s (ifname, address) in a subnet that ``other`` also has an address in."""
    theirs = [ipaddress.ip_interface(a).network for _, addrs in ifaces.get(other, []) for a in addrs]
    for ifname, addrs in ifaces.get(node, []):
        for a in addrs:
            iface = ipaddress.ip_interface(a)
            if iface.network in theirs:
                return ifname, str(iface.ip)
    return None


def _first_address(node: str, ifaces: Interfaces, version: int) -> str | None:
    for _ifname, addrs in ifaces.get(node, []):
        for a in addrs:
            iface = ipaddress.ip_interface(a)
            if iface.version == version:
                return str(iface.ip)
    return None


def service_name(svc: VirtualService) -> str:
    if svc.name:
        return svc.name
    if svc.fwmark is not None:
        return f"fwmark {svc.fwmark}"
    return f"{svc.vip}:{svc.port}/{svc.protocol}"


def resolve_services(topo: Topology, ifaces: Interfaces) -> tuple[ResolvedService, ...]:
    out = []
    for svc in topo.ipvs:
        version = ipaddress.ip_address(svc.vip).version if svc.vip else 4
        dests = []
        for rs in svc.real_servers:
            mode = rs.mode or svc.mode
            address = rs.address
            if address is None:
                shared = _shared_address(rs.node, svc.director, ifaces)
                address = shared[1] if shared else _first_address(rs.node, ifaces, version)
            dests.append(IpvsDest(rs.node, address or "", rs.port or svc.port or 0, rs.weight, mode))
        out.append(ResolvedService(
            name=service_name(svc), director=svc.director, family=version, protocol=svc.protocol, vip=svc.vip,
            port=svc.port or 0, fwmark=svc.fwmark, scheduler=svc.scheduler, persistence=svc.persistence,
            flags=svc.flags, dests=tuple(dests)))
    return tuple(out)


def derive_settings(topo: Topology, ifaces: Interfaces) -> tuple[DerivedSetting, ...]:
    """Every setting the IPVS roles imply, in a stable order, de-duplicated per node and target."""
    found: dict[tuple[str, str, str], DerivedSetting] = {}

    def add(node: str, kind: SettingKind, target: str, value: str, reason: str) -> None:
        key = (node, kind, target)
        if key in found:
            return
        user = topo.nodes[node].sysctls if node in topo.nodes else {}
        overridden = kind == "sysctl" and target in user
        if kind == "route" and target == "default":
            overridden = any(r.to == "default" for r in topo.nodes[node].routes)
        if kind == "address":
            ip = target.split("/")[0]
            overridden = any(a.split("/")[0] == ip for a in topo.nodes[node].loopback)
        found[key] = DerivedSetting(node, kind, target, value, reason, overridden)

    for svc in topo.ipvs:
        name = service_name(svc)
        director = svc.director
        modes = {rs.mode or svc.mode for rs in svc.real_servers}
        if svc.vip is not None:
            vip = ipaddress.ip_address(svc.vip)
            host = f"{vip}/{vip.max_prefixlen}"
            on: str | None = svc.vip_interface
            if on is None:
                for ifname, addrs in ifaces.get(director, []):
                    if any(vip in ipaddress.ip_interface(a).network for a in addrs):
                        on = ifname
                        break
            if on is not None and on != "lo":
                add(director, "address", host, on,
                    f"{name}: the VIP on {on}, whose subnet contains it, so the director answers ARP for the VIP "
                    "and clients' packets come to it")
            else:
                add(director, "address", host, "lo",
                    f"{name}: the director must own the VIP to accept packets for it; on lo, clients reach it "
                    "by a route")
        if "nat" in modes:
            add(director, "sysctl", "net.ipv4.ip_forward", "1",
                f"{name} (NAT): replies from the real servers are routed through the director, which rewrites "
                "their source back to the VIP")
        if "tun" in modes:
            for key in ("net.ipv4.conf.all.send_redirects", "net.ipv4.conf.default.send_redirects"):
                add(director, "sysctl", key, "0",
                    f"{name} (TUN): the director sends encapsulated packets back out of the interface they came "
                    "in on; it must not tell the sender to use another route (ICMP redirect)")
        for rs in svc.real_servers:
            mode = rs.mode or svc.mode
            node = rs.node
            if mode == "nat":
                shared = _shared_address(director, node, ifaces)
                if shared is not None:
                    add(node, "route", "default", shared[1],
                        f"{name} (NAT): replies must go back through the director ({shared[1]}) to have their "
                        "source rewritten to the VIP; sent any other way, the client would drop them")
                continue
            if svc.vip is not None:
                vip = ipaddress.ip_address(svc.vip)
                add(node, "address", f"{vip}/{vip.max_prefixlen}", "lo",
                    f"{name} ({mode.upper()}): packets arrive still addressed to the VIP; the real server must "
                    "own it to accept them, and holds it on lo so that it is not announced on the network")
            add(node, "sysctl", "net.ipv4.conf.all.arp_ignore", "1",
                f"{name} ({mode.upper()}): answer ARP only for addresses on the receiving interface, so the VIP "
                "on lo stays hidden and only the director answers for it")
            add(node, "sysctl", "net.ipv4.conf.all.arp_announce", "2",
                f"{name} ({mode.upper()}): use the outgoing interface's own address as ARP source, never the "
                "VIP, so neighbours do not learn the VIP at this real server's MAC")
            if mode == "tun":
                add(node, "link-up", "tunl0", "",
                    f"{name} (TUN): the director's IPIP packets are decapsulated by the fallback device tunl0, "
                    "which the ipip module creates down in every namespace")
                for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.tunl0.rp_filter"):
                    add(node, "sysctl", key, "0",
                        f"{name} (TUN): the decapsulated packet arrives on tunl0 but the route back to the client "
                        "leaves by another interface; strict reverse-path filtering would drop it")
    return tuple(found.values())
