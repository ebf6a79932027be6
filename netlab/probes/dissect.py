"""Just enough of a packet dissector to tell a probe's request from its reply, at every hop of a lab.

Why not scapy, which the capture probes use: the path recorder looks at every frame of every interface
during every traffic probe, and scapy dissects a few thousand packets a second on a fast machine (and
``import scapy.all`` alone takes ≈28 s inside the full-kernel VM, bench/MEASUREMENTS.md §2). What a hop
needs is small: the innermost packet's protocol, addresses and ports (through IPIP, GRE and VXLAN, as
a tunnel carries it), the ICMP type and the packet an ICMP error quotes, the ARP operation -- and a
one-line summary in tcpdump's words for the record a learner reads. Pure: bytes in, facts out.
"""

from __future__ import annotations

import socket
import struct

from netlab.core.frozen import frozen

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
VXLAN_PORTS = frozenset({4789, 8472})
ICMP_ERRORS_V4 = frozenset({3, 4, 5, 11, 12})
ICMP_ERRORS_V6 = frozenset({1, 2, 3, 4})
ICMP_NAMES = {("icmp", 0): "echo reply", ("icmp", 8): "echo request", ("icmp", 3): "unreachable",
              ("icmp", 11): "time exceeded", ("icmp", 5): "redirect", ("icmp6", 128): "echo request",
              ("icmp6", 129): "echo reply", ("icmp6", 1): "unreachable", ("icmp6", 2): "packet too big",
              ("icmp6", 3): "time exceeded", ("icmp6", 135): "neighbor solicitation",
              ("icmp6", 136): "neighbor advertisement"}
TCP_FLAGS = "FSRPAUEC"


@frozen
class Flow:
    """The innermost packet of a frame, as a probe's traffic is recognised by."""

    proto: str
    """``tcp``, ``udp``, ``icmp``, ``icmp6``, ``arp`` or ``ip`` (another IP protocol)."""
    src: str
    dst: str
    """Addresses; for ARP the sender and target protocol addresses."""
    sport: int | None = None
    dport: int | None = None
    kind: int | None = None
    """ICMP type, ARP operation (1 request, 2 reply) or the IP protocol number."""
    quoted: Flow | None = None
    """The packet an ICMP error quotes (the one that caused it)."""


@frozen
class Dissected:
    flow: Flow | None
    """None for what is not IP or ARP (LLDP, a truncated frame)."""
    summary: str
    """``IP 10.0.1.10.41234 > 10.0.10.100.80 TCP [S]``; encapsulations first: ``GRE ... key 42 | ICMP ...``."""
    broadcast: bool
    """The outer Ethernet destination is broadcast or multicast (every port of a LAN receives it)."""


def dissect(data: bytes, hatype: int) -> Dissected:
    """What a frame captured on an interface of type ``hatype`` carries (raw frames: Ethernet-like devices
    with their link-layer header, tunnel devices as bare IP)."""
    parts: list[str] = []
    ethernet = hatype in (ARPHRD_ETHER, ARPHRD_LOOPBACK)
    try:
        flow = _ether(data, parts) if ethernet else _ip(data, parts)
    except (struct.error, IndexError, ValueError, OSError):
        flow = None
        parts.append("(truncated)")
    broadcast = ethernet and len(data) >= 1 and bool(data[0] & 1)
    return Dissected(flow, " | ".join(parts) or f"{len(data)} bytes", broadcast)


def _u16(data: bytes, at: int) -> int:
    value: int = struct.unpack_from("!H", data, at)[0]
    return value


def _ether(data: bytes, parts: list[str]) -> Flow | None:
    ethertype, at = _u16(data, 12), 14
    while ethertype in (0x8100, 0x88A8):  # VLAN tags
        ethertype, at = _u16(data, at + 2), at + 4
    payload = data[at:]
    if ethertype == 0x0806:
        return _arp(payload, parts)
    if ethertype in (0x0800, 0x86DD):
        return _ip(payload, parts)
    parts.append(f"ethertype 0x{ethertype:04x}")
    return None


def _arp(data: bytes, parts: list[str]) -> Flow:
    op = _u16(data, 6)
    sha, spa, tpa = data[8:14], socket.inet_ntoa(data[14:18]), socket.inet_ntoa(data[24:28])
    mac = ":".join(f"{b:02x}" for b in sha)
    parts.append(f"ARP who-has {tpa} tell {spa}" if op == 1 else f"ARP {spa} is-at {mac}" if op == 2 else
                 f"ARP op {op} {spa} > {tpa}")
    return Flow("arp", spa, tpa, kind=op)


def _ip(data: bytes, parts: list[str]) -> Flow | None:
    version = data[0] >> 4
    if version == 4:
        header = (data[0] & 0x0F) * 4
        total = _u16(data, 2)
        src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
        if _u16(data, 6) & 0x1FFF:  # a later fragment: no transport header in it
            parts.append(f"IP {src} > {dst} fragment")
            return Flow("ip", src, dst, kind=data[9])
        end = total if header <= total <= len(data) else len(data)
        return _transport(data[9], src, dst, data[header:end], parts, "IP")
    if version == 6:
        src = socket.inet_ntop(socket.AF_INET6, data[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, data[24:40])
        nh, payload = data[6], data[40:]
        while nh in (0, 43, 60, 44):  # hop-by-hop, routing, destination options, fragment
            if nh == 44 and _u16(payload, 2) & 0xFFF8:
                parts.append(f"IP6 {src} > {dst} fragment")
                return Flow("ip", src, dst, kind=payload[0])
            nh, payload = payload[0], payload[8 if nh == 44 else (payload[1] + 1) * 8:]
        return _transport(nh, src, dst, payload, parts, "IP6")
    parts.append(f"IP version {version}?")
    return None


def _transport(proto: int, src: str, dst: str, p: bytes, parts: list[str], ip: str) -> Flow | None:
    if proto in (4, 41):  # IPIP, IPv6 in IPv4
        parts.append(f"IPIP {src} > {dst}")
        return _ip(p, parts)
    if proto == 47:
        return _gre(src, dst, p, parts)
    if proto in (6, 17):
        sport, dport = struct.unpack_from("!HH", p)
        name = "tcp" if proto == 6 else "udp"
        if proto == 17 and _is_vxlan(dport, p[8:]):
            parts.append(f"VXLAN {src} > {dst} vni {int.from_bytes(p[12:15], 'big')}")
            return _ether(p[16:], parts)
        flags = "".join(c for i, c in enumerate(TCP_FLAGS) if p[13] >> i & 1) if proto == 6 else ""
        parts.append(f"{ip} {_host(src, sport)} > {_host(dst, dport)} {name.upper()}" + (f" [{flags}]" if flags
                                                                                        else ""))
        return Flow(name, src, dst, sport, dport, proto)
    if proto in (1, 58):
        name = "icmp" if proto == 1 else "icmp6"
        kind = p[0]
        errors = ICMP_ERRORS_V4 if proto == 1 else ICMP_ERRORS_V6
        quoted = None
        if kind in errors and len(p) > 8:
            quoted = _ip(p[8:], [])
        parts.append(f"{ip} {src} > {dst} {name.upper()} {ICMP_NAMES.get((name, kind), f'type {kind}')}")
        return Flow(name, src, dst, kind=kind, quoted=quoted)
    parts.append(f"{ip} {src} > {dst} proto {proto}")
    return Flow("ip", src, dst, kind=proto)


def _gre(src: str, dst: str, p: bytes, parts: list[str]) -> Flow | None:
    flags, ptype = _u16(p, 0), _u16(p, 2)
    at, key = 4, None
    if flags & 0x8000:  # checksum present
        at += 4
    if flags & 0x2000:
        key = int.from_bytes(p[at:at + 4], "big")
        at += 4
    if flags & 0x1000:  # sequence number
        at += 4
    parts.append(f"GRE {src} > {dst}" + (f" key {key}" if key is not None else ""))
    if ptype == 0x6558:  # transparent Ethernet bridging (gretap)
        return _ether(p[at:], parts)
    if ptype in (0x0800, 0x86DD):
        return _ip(p[at:], parts)
    parts.append(f"protocol 0x{ptype:04x}")
    return None


def _is_vxlan(dport: int, payload: bytes) -> bool:
    """On the well-known ports, or anywhere a VXLAN header is unmistakable (flags 0x08, reserved bytes zero:
    a lab may move VXLAN to another port; random probe bytes look like that once in 2**64)."""
    if len(payload) < 8 + 14 or payload[0] != 0x08 or payload[7] != 0:
        return False
    return dport in VXLAN_PORTS or payload[1:4] == b"\0\0\0"


def _host(address: str, port: int) -> str:
    return f"{address}.{port}"
