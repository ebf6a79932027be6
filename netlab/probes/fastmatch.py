"""A capture's ``match`` on the common fields, read straight from the frame: scapy's answer, without scapy.

Why: a ``match`` such as ``{IP.src: 10.0.1.10}`` made every probe run import scapy's core layers (≈ 0.25 s of
``netlab probe routed``, 1.25 s in all; seconds inside the full-kernel VM), to read four bytes of an IP
header. Most labs name only Ethernet, ARP, IP, IPv6, TCP, UDP and ICMP header fields, whose place in a
frame is fixed. So:

* :func:`fast_match` accepts a ``match`` only if every key is such a field (:data:`FIELDS`; also GRE's and
  VXLAN's), of any depth (``IP[2].dst``: the inner header of IPIP, GRE or VXLAN), and every wanted value is
  of the field's own type (an int for a number, a string for an address); anything else -- ``TCP.flags: S``,
  ``IP.proto: tcp`` -- is left to scapy (:class:`netlab.probes.capture.Matcher`), whose display names it needs.
* :func:`headers` walks the frame as scapy dissects it with the layers netlab always loads
  (netlab.probes.layers.CORE), following only the bindings whose outcome is certain: Ethernet → ARP, IPv4,
  IPv6; IPv4/IPv6 → IPv4 (4), IPv6 (41), GRE (47), TCP, UDP, ICMP; UDP to or from a VXLAN port → VXLAN →
  Ethernet; GRE (version 0, no routing) → IPv4, IPv6, Ethernet (gretap), ARP. It stops where scapy might go
  on into something it does not follow (an ICMP error's quoted packet, a TCP payload, a VLAN tag, an IPv6
  extension header, a fragment).
* :meth:`FastMatch.matches` answers True or False only where the answer cannot differ from scapy's
  (``pkt.getlayer(Layer, n).field``, compared as Matcher compares): the n-th layer of the kind asked for must
  lie in the part of the frame the walk is certain of. Where it might sit deeper, or the frame is short or of
  another link type, it answers None and the caller asks scapy for that frame. tests/unit/test_probes_fastmatch.py
  compares the two answers over crafted frames of every such kind, inner layers included.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping

from netlab.probes.layers import KEY
from netlab.probes.packets import LINKTYPE_ETHERNET

Fields = dict[str, int | str]

ADDRESS = frozenset({("Ether", "src"), ("Ether", "dst"), ("ARP", "hwsrc"), ("ARP", "hwdst"), ("ARP", "psrc"),
                     ("ARP", "pdst"), ("IP", "src"), ("IP", "dst"), ("IPv6", "src"), ("IPv6", "dst")})
"""Fields whose value is text (scapy's own form: lower-case MAC, dotted quad, ``inet_ntop``'s IPv6)."""

NUMBERS: dict[str, frozenset[str]] = {
    "Ether": frozenset({"type"}),
    "ARP": frozenset({"hwtype", "ptype", "hwlen", "plen", "op"}),
    "IP": frozenset({"version", "ihl", "tos", "len", "id", "flags", "frag", "ttl", "proto", "chksum"}),
    "IPv6": frozenset({"version", "tc", "fl", "plen", "nh", "hlim"}),
    "TCP": frozenset({"sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window", "chksum", "urgptr"}),
    "UDP": frozenset({"sport", "dport", "len", "chksum"}),
    "ICMP": frozenset({"type", "code", "chksum", "id", "seq"}),
    "GRE": frozenset({"chksum_present", "routing_present", "key_present", "seqnum_present", "strict_route_source",
                      "recursion_control", "flags", "version", "proto", "chksum", "offset", "key", "sequence_number"}),
    "VXLAN": frozenset({"reserved1", "vni", "reserved2"}),
}
"""Fields whose value is a number (compared with an int ``match`` value only)."""

FIELDS = ADDRESS | {(layer, name) for layer, names in NUMBERS.items() for name in names}
"""Every (layer, field) the fast path reads; each is a field of scapy's layer of that name (a unit test checks)."""

L4 = {6: "TCP", 17: "UDP"}
VXLAN_DPORTS = frozenset({4789, 4790, 6633, 8472, 48879})
VXLAN_SPORTS = frozenset({4789, 4790, 6633, 8472})
"""scapy.layers.vxlan's bindings of UDP to VXLAN (by destination port first, then by source port)."""
GRE_IN_UDP = 4754
"""scapy.layers.inet binds UDP to this port to GRE before the VXLAN ports are bound: not followed."""
ICMP_ECHO = (0, 8)
"""ICMP types whose header has ``id`` and ``seq`` (scapy's conditional fields; other types: left to scapy)."""


def fast_match(match: Mapping[str, object]) -> FastMatch | None:
    """A :class:`FastMatch` for ``match``, or None if some key or value needs scapy."""
    checks: list[tuple[str, int, str, int | str]] = []
    for key, want in match.items():
        m = KEY.match(key)
        if m is None or (m["layer"], m["field"]) not in FIELDS:
            return None
        nth = int(m["nth"] or 1)
        address = (m["layer"], m["field"]) in ADDRESS
        if nth < 1 or isinstance(want, bool) or not isinstance(want, str if address else int):
            return None
        checks.append((m["layer"], nth, m["field"], want))
    return FastMatch(tuple(checks))


class FastMatch:
    """Compiled ``match`` checks: (layer, n-th of its kind, field, wanted value)."""

    def __init__(self, checks: tuple[tuple[str, int, str, int | str], ...]) -> None:
        self.checks = checks

    def matches(self, data: bytes, linktype: int) -> bool | None:
        """Whether the frame matches, or None where scapy must be asked (see the module's docstring)."""
        try:
            found, complete = headers(data, linktype == LINKTYPE_ETHERNET)
        except (struct.error, IndexError, ValueError, OSError):
            return None
        for layer, nth, name, want in self.checks:
            seen = found.get(layer, ())
            if len(seen) < nth:
                if complete:
                    return False  # the frame has no such layer at all (scapy: getlayer is None)
                return None
            fields = seen[nth - 1]
            if name not in fields:
                return None
            if fields[name] != want:
                return False
        return True


Found = dict[str, list[Fields]]


def headers(data: bytes, ethernet: bool) -> tuple[Found, bool]:
    """The frame's headers by scapy layer name, outer first, as far as scapy's dissection is certain; and whether
    no layer a key can name follows them (the walk ended at ARP or ICMP). Raises on a frame too short for a header
    it starts."""
    found: Found = {}
    if ethernet:
        complete = _ether(data, found)
    elif data and data[0] >> 4 == 6:
        complete = _ipv6(data, found)
    elif data and data[0] >> 4 == 4:
        complete = _ipv4(data, found)
    else:
        complete = False
    return found, complete


def _add(found: Found, layer: str, fields: Fields) -> None:
    found.setdefault(layer, []).append(fields)


def _u16(data: bytes, at: int) -> int:
    value: int = struct.unpack_from("!H", data, at)[0]
    return value


def _mac(raw: bytes) -> str:
    if len(raw) != 6:
        raise ValueError("short MAC")
    return ":".join(f"{b:02x}" for b in raw)


def _ether(data: bytes, found: Found) -> bool:
    etype = _u16(data, 12)
    if etype <= 1500:
        return False  # an 802.3 length, not a type: scapy makes the frame a Dot3, with no Ether layer
    _add(found, "Ether", {"dst": _mac(data[0:6]), "src": _mac(data[6:12]), "type": etype})
    return _ethertype(etype, data[14:], found)


def _ethertype(etype: int, rest: bytes, found: Found) -> bool:
    """What follows an Ethernet header or a GRE header of this protocol type."""
    if etype == 0x0806:
        _add(found, "ARP", _arp(rest))
        return True
    if etype == 0x0800:
        return _ipv4(rest, found)
    if etype == 0x86DD:
        return _ipv6(rest, found)
    return False


def _arp(p: bytes) -> Fields:
    hwtype, ptype, hwlen, plen, op = struct.unpack_from("!HHBBH", p, 0)
    fields: Fields = {"hwtype": hwtype, "ptype": ptype, "hwlen": hwlen, "plen": plen, "op": op}
    if (hwtype, ptype, hwlen, plen) == (1, 0x0800, 6, 4):  # else scapy types the addresses otherwise
        fields |= {"hwsrc": _mac(p[8:14]), "psrc": socket.inet_ntoa(p[14:18]), "hwdst": _mac(p[18:24]),
                   "pdst": socket.inet_ntoa(p[24:28])}
    return fields


def _ipv4(p: bytes, found: Found) -> bool:
    if p[0] >> 4 != 4:
        return False  # scapy would still call it IP: leave it to scapy
    ihl = p[0] & 0x0F
    tos, length, ident, frag_word, ttl, proto, chksum = struct.unpack_from("!BHHHBBH", p, 1)
    _add(found, "IP", {"version": 4, "ihl": ihl, "tos": tos, "len": length, "id": ident, "flags": frag_word >> 13,
                       "frag": frag_word & 0x1FFF, "ttl": ttl, "proto": proto, "chksum": chksum,
                       "src": socket.inet_ntoa(p[12:16]), "dst": socket.inet_ntoa(p[16:20])})
    if ihl < 5 or frag_word & 0x1FFF:
        return False  # scapy binds what follows at fragment offset 0 only
    return _protocol(proto, p[ihl * 4:length], found)


def _ipv6(p: bytes, found: Found) -> bool:
    word, plen, nh, hlim = struct.unpack_from("!IHBB", p, 0)
    if len(p) < 40:
        raise ValueError("short IPv6 header")
    _add(found, "IPv6", {"version": word >> 28, "tc": (word >> 20) & 0xFF, "fl": word & 0xFFFFF, "plen": plen,
                         "nh": nh, "hlim": hlim, "src": socket.inet_ntop(socket.AF_INET6, p[8:24]),
                         "dst": socket.inet_ntop(socket.AF_INET6, p[24:40])})
    if not plen:
        return False  # a jumbogram, or nothing: scapy's to judge
    if nh == 1:
        return False  # scapy binds ICMP (v4) to IPv4 only: after IPv6 it is Raw
    return _protocol(nh, p[40:40 + plen], found)


TERMINAL = frozenset({2, 58, 59})
"""IGMP, ICMPv6, no next header: scapy finds in them (IGMP, ICMPv6 with its options or an error's IPerror6, Raw)
none of the layers a key of the fast path names, with any of its modules loaded -- so the walk is complete there.
(Multicast joins and router solicitations cross every lab with a bridge or IPv6, tunnels included.)"""


def _protocol(proto: int, payload: bytes, found: Found) -> bool:
    """What follows an IPv4 header of this protocol, or an IPv6 header with this next header."""
    if proto in TERMINAL:
        return True
    if proto == 1:
        return _icmp(payload, found)
    if proto == 6:
        _tcp(payload, found)
    elif proto == 17:
        return _udp(payload, found)
    elif proto == 4:
        return _ipv4(payload, found)
    elif proto == 41:
        return _ipv6(payload, found)
    elif proto == 47:
        return _gre(payload, found)
    return False


def _udp(p: bytes, found: Found) -> bool:
    """UDP, only when its whole header is there (a short one is scapy's to judge); VXLAN inside it."""
    if len(p) < 8:
        return False
    sport, dport, length, chksum = struct.unpack_from("!HHHH", p, 0)
    _add(found, "UDP", {"sport": sport, "dport": dport, "len": length, "chksum": chksum})
    if dport == GRE_IN_UDP or not (dport in VXLAN_DPORTS or sport in VXLAN_SPORTS) or length < 8:
        return False
    return _vxlan(p[8:length], found)


def _vxlan(p: bytes, found: Found) -> bool:
    """The plain VXLAN header (flags without GPE's next protocol or the group policy bit), then Ethernet."""
    if len(p) < 8 or p[0] & 0x84:
        return False
    _add(found, "VXLAN", {"reserved1": int.from_bytes(p[1:4], "big"), "vni": int.from_bytes(p[4:7], "big"),
                          "reserved2": p[7]})
    return _ether(p[8:], found)


def _gre(p: bytes, found: Found) -> bool:
    """GRE version 0 without routing (else scapy makes it GRE_PPTP or adds GRErouting layers)."""
    if len(p) < 4:
        return False
    first, second, proto = struct.unpack_from("!BBH", p, 0)
    if proto == 0x880B or first & 0x40:
        return False
    fields: Fields = {"chksum_present": first >> 7, "routing_present": (first >> 6) & 1,
                      "key_present": (first >> 5) & 1, "seqnum_present": (first >> 4) & 1,
                      "strict_route_source": (first >> 3) & 1, "recursion_control": first & 7, "flags": second >> 3,
                      "version": second & 7, "proto": proto}
    at = 4
    for present, names in ((first >> 7, ("chksum", "offset")), ((first >> 5) & 1, ("key",)),
                           ((first >> 4) & 1, ("sequence_number",))):
        if present:
            if len(names) == 2:
                fields["chksum"], fields["offset"] = struct.unpack_from("!HH", p, at)
            else:
                fields[names[0]] = struct.unpack_from("!I", p, at)[0]
            at += 4
    _add(found, "GRE", fields)
    if proto == 0x6558:
        return _ether(p[at:], found)
    return _ethertype(proto, p[at:], found)


def _tcp(p: bytes, found: Found) -> None:
    if len(p) < 20 or len(p) < (p[12] >> 4) * 4:
        return
    sport, dport, seq, ack, word, window, chksum, urgptr = struct.unpack_from("!HHIIHHHH", p, 0)
    _add(found, "TCP", {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "dataofs": word >> 12,
                        "reserved": (word >> 9) & 0x7, "flags": word & 0x1FF, "window": window, "chksum": chksum,
                        "urgptr": urgptr})


def _icmp(p: bytes, found: Found) -> bool:
    """ICMP; the walk is complete after it: what scapy finds in an ICMP message is Raw, or an error's quoted
    packet as IPerror, TCPerror, UDPerror, ICMPerror -- classes of their own, never the IP or TCP a key names."""
    if len(p) < 8:
        return False
    kind, code, chksum, ident, seq = struct.unpack_from("!BBHHH", p, 0)
    fields: Fields = {"type": kind, "code": code, "chksum": chksum}
    if kind in ICMP_ECHO:
        fields |= {"id": ident, "seq": seq}
    _add(found, "ICMP", fields)
    return True
