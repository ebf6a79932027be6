"""A capture's ``match`` on the common fields, read straight from the frame: scapy's answer, without scapy.

Why: a ``match`` such as ``{IP.src: 10.0.1.10}`` made every probe run import scapy's core layers (≈ 0.25 s of
``netlab probe routed``, 1.25 s in all; seconds inside the full-kernel VM), to read four bytes of an IP
header. Most labs name only Ethernet, ARP, IP, IPv6, TCP, UDP and ICMP header fields, whose place in a
frame is fixed. So:

* :func:`fast_match` accepts a ``match`` only if every key is such a field (:data:`FIELDS`), first of its kind
  (no ``IP[2]``), and every wanted value is of the field's own type (an int for a number, a string for an
  address); anything else -- ``TCP.flags: S``, ``IP.proto: tcp``, ``IP[2].dst``, ``VXLAN.vni`` -- is left
  to scapy (:class:`netlab.probes.capture.Matcher`), whose display names and deeper dissection it needs.
* :meth:`FastMatch.matches` answers True or False only where the answer cannot differ from scapy's
  (``pkt.getlayer(Layer, 1).field``, compared as Matcher compares): the first layer of the kind asked for
  must be the outer one of the frame. Where it might sit deeper (TCP asked for, the outer IP carries UDP
  -- VXLAN?; IP asked for, the outer header is IPv6), or the frame is short, a fragment or of another link
  type, it answers None and the caller asks scapy for that frame. tests/unit/test_probes_fastmatch.py
  compares the two answers over crafted frames of every such kind.
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
}
"""Fields whose value is a number (compared with an int ``match`` value only)."""

FIELDS = ADDRESS | {(layer, name) for layer, names in NUMBERS.items() for name in names}
"""Every (layer, field) the fast path reads; each is a field of scapy's layer of that name (a unit test checks)."""

L4 = {6: "TCP", 17: "UDP"}
ICMP_ECHO = (0, 8)
"""ICMP types whose header has ``id`` and ``seq`` (scapy's conditional fields; other types: left to scapy)."""


def fast_match(match: Mapping[str, object]) -> FastMatch | None:
    """A :class:`FastMatch` for ``match``, or None if some key or value needs scapy."""
    checks: list[tuple[str, str, int | str]] = []
    for key, want in match.items():
        m = KEY.match(key)
        if m is None or m["nth"] not in (None, "1") or (m["layer"], m["field"]) not in FIELDS:
            return None
        address = (m["layer"], m["field"]) in ADDRESS
        if isinstance(want, bool) or not isinstance(want, str if address else int):
            return None
        checks.append((m["layer"], m["field"], want))
    return FastMatch(tuple(checks))


class FastMatch:
    """Compiled ``match`` checks: (layer, field, wanted value)."""

    def __init__(self, checks: tuple[tuple[str, str, int | str], ...]) -> None:
        self.checks = checks

    def matches(self, data: bytes, linktype: int) -> bool | None:
        """Whether the frame matches, or None where scapy must be asked (see the module's docstring)."""
        try:
            found, complete = headers(data, linktype == LINKTYPE_ETHERNET)
        except (struct.error, IndexError, ValueError, OSError):
            return None
        for layer, name, want in self.checks:
            fields = found.get(layer)
            if fields is None:
                if complete:
                    return False  # the frame has no such layer at all (scapy: getlayer is None)
                return None
            if name not in fields:
                return None
            if fields[name] != want:
                return False
        return True


def headers(data: bytes, ethernet: bool) -> tuple[dict[str, Fields], bool]:
    """The frame's outer headers by scapy layer name, and whether nothing else can follow them (an ARP frame:
    scapy dissects nothing after ARP). Raises on a frame too short for a header it starts."""
    found: dict[str, Fields] = {}
    if ethernet:
        etype = _u16(data, 12)
        if etype <= 1500:
            return found, False  # an 802.3 length, not a type: scapy makes the frame a Dot3, with no Ether layer
        found["Ether"] = {"dst": _mac(data[0:6]), "src": _mac(data[6:12]), "type": etype}
        rest = data[14:]
        if etype == 0x0806:
            found["ARP"] = _arp(rest)
            return found, True
        if etype == 0x0800:
            _ipv4(rest, found)
        elif etype == 0x86DD:
            _ipv6(rest, found)
        return found, False
    if data and data[0] >> 4 == 6:
        _ipv6(data, found)
    elif data and data[0] >> 4 == 4:
        _ipv4(data, found)
    return found, False


def _u16(data: bytes, at: int) -> int:
    value: int = struct.unpack_from("!H", data, at)[0]
    return value


def _mac(raw: bytes) -> str:
    if len(raw) != 6:
        raise ValueError("short MAC")
    return ":".join(f"{b:02x}" for b in raw)


def _arp(p: bytes) -> Fields:
    hwtype, ptype, hwlen, plen, op = struct.unpack_from("!HHBBH", p, 0)
    fields: Fields = {"hwtype": hwtype, "ptype": ptype, "hwlen": hwlen, "plen": plen, "op": op}
    if (hwtype, ptype, hwlen, plen) == (1, 0x0800, 6, 4):  # else scapy types the addresses otherwise
        fields |= {"hwsrc": _mac(p[8:14]), "psrc": socket.inet_ntoa(p[14:18]), "hwdst": _mac(p[18:24]),
                   "pdst": socket.inet_ntoa(p[24:28])}
    return fields


def _ipv4(p: bytes, found: dict[str, Fields]) -> None:
    if p[0] >> 4 != 4:
        return  # scapy would still call it IP: leave it to scapy
    ihl = p[0] & 0x0F
    tos, length, ident, frag_word, ttl, proto, chksum = struct.unpack_from("!BHHHBBH", p, 1)
    found["IP"] = {"version": 4, "ihl": ihl, "tos": tos, "len": length, "id": ident, "flags": frag_word >> 13,
                   "frag": frag_word & 0x1FFF, "ttl": ttl, "proto": proto, "chksum": chksum,
                   "src": socket.inet_ntoa(p[12:16]), "dst": socket.inet_ntoa(p[16:20])}
    if ihl < 5 or frag_word & 0x1FFF:
        return  # scapy binds TCP/UDP/ICMP at fragment offset 0 only
    payload = p[ihl * 4:length]
    if proto == 1:
        _icmp(payload, found)
    elif proto in L4:
        _transport(L4[proto], payload, found)


def _ipv6(p: bytes, found: dict[str, Fields]) -> None:
    word, plen, nh, hlim = struct.unpack_from("!IHBB", p, 0)
    if len(p) < 40:
        raise ValueError("short IPv6 header")
    found["IPv6"] = {"version": word >> 28, "tc": (word >> 20) & 0xFF, "fl": word & 0xFFFFF, "plen": plen, "nh": nh,
                     "hlim": hlim, "src": socket.inet_ntop(socket.AF_INET6, p[8:24]),
                     "dst": socket.inet_ntop(socket.AF_INET6, p[24:40])}
    if nh in L4 and plen:
        _transport(L4[nh], p[40:40 + plen], found)


def _transport(layer: str, p: bytes, found: dict[str, Fields]) -> None:
    """TCP or UDP, only when its whole header is there (a short one is scapy's to judge)."""
    if layer == "UDP":
        if len(p) >= 8:
            sport, dport, length, chksum = struct.unpack_from("!HHHH", p, 0)
            found["UDP"] = {"sport": sport, "dport": dport, "len": length, "chksum": chksum}
        return
    if len(p) < 20 or len(p) < (p[12] >> 4) * 4:
        return
    sport, dport, seq, ack, word, window, chksum, urgptr = struct.unpack_from("!HHIIHHHH", p, 0)
    found["TCP"] = {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "dataofs": word >> 12,
                    "reserved": (word >> 9) & 0x7, "flags": word & 0x1FF, "window": window, "chksum": chksum,
                    "urgptr": urgptr}


def _icmp(p: bytes, found: dict[str, Fields]) -> None:
    if len(p) < 8:
        return
    kind, code, chksum, ident, seq = struct.unpack_from("!BBHHH", p, 0)
    fields: Fields = {"type": kind, "code": code, "chksum": chksum}
    if kind in ICMP_ECHO:
        fields |= {"id": ident, "seq": seq}
    found["ICMP"] = fields
