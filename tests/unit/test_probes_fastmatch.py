"""netlab.probes.fastmatch gives scapy's answer or none: compared with capture.Matcher over frames of every shape."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, GRE, LLC, Dot1Q, Dot3, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from netlab.probes import layers
from netlab.probes.capture import Matcher
from netlab.probes.fastmatch import ADDRESS, FIELDS, fast_match, headers
from netlab.probes.packets import LINKTYPE_ETHERNET, LINKTYPE_RAW

E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
TCP_SYN = IP(src="10.0.1.10", dst="10.0.2.10", ttl=63, id=7) / TCP(sport=40000, dport=80, flags="S", seq=1)

FRAMES: dict[str, tuple[bytes, int]] = {
    "ether-ip-tcp": (bytes(E / TCP_SYN), LINKTYPE_ETHERNET),
    "ether-ip-tcp-options": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_RR()])
                                   / TCP(options=[("MSS", 1460), ("WScale", 7)])), LINKTYPE_ETHERNET),
    "ether-ip-udp": (bytes(E / IP(src="10.0.1.10", dst="10.0.2.10") / UDP(sport=5000, dport=7) / (b"x" * 32)),
                     LINKTYPE_ETHERNET),
    "ether-ip-icmp-echo": (bytes(E / IP(src="10.0.1.10", dst="10.0.2.10") / ICMP(id=9, seq=3)), LINKTYPE_ETHERNET),
    "ether-ip-icmp-error": (bytes(E / IP(src="10.0.1.1", dst="10.0.1.10") / ICMP(type=3, code=0) / TCP_SYN),
                            LINKTYPE_ETHERNET),
    "ether-padded-short": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(dport=53)) + b"\0" * 20,
                           LINKTYPE_ETHERNET),
    "ether-ip-fragment": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2", proto=6, frag=185) / Raw(b"y" * 40)),
                          LINKTYPE_ETHERNET),
    "ether-ip-first-fragment": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / TCP(dport=22)),
                                LINKTYPE_ETHERNET),
    "ipip": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / TCP_SYN), LINKTYPE_ETHERNET),
    "gre-ipv6": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / GRE() / IPv6(src="fd00:1::10", dst="fd00:2::10")
                       / TCP(dport=80)), LINKTYPE_ETHERNET),
    "vxlan": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4000, dport=4789) / VXLAN(vni=42)
                    / Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / TCP_SYN), LINKTYPE_ETHERNET),
    "ether-ipv6-tcp": (bytes(E / IPv6(src="fd00:1::10", dst="fd00:2::10", hlim=5) / TCP(dport=443)),
                       LINKTYPE_ETHERNET),
    "ether-ipv6-udp-mapped": (bytes(E / IPv6(src="::ffff:10.0.0.1", dst="fe80::1") / UDP(dport=9)),
                              LINKTYPE_ETHERNET),
    "ipv6-in-ipv4": (bytes(E / IP(src="10.0.0.11", dst="10.0.0.12") / IPv6(dst="fd00:4::2") / UDP()),
                     LINKTYPE_ETHERNET),
    "ipv4-in-ipv6": (bytes(E / IPv6(src="fd00::1", dst="fd00::2") / IP(src="192.168.0.1", dst="192.168.0.2")
                           / UDP()), LINKTYPE_ETHERNET),
    "arp-who-has": (bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
                          / ARP(op=1, psrc="10.0.10.1", pdst="10.0.10.100", hwsrc="02:00:00:00:00:01")),
                    LINKTYPE_ETHERNET),
    "arp-odd-ptype": (bytes(E / ARP(ptype=0x86DD, plen=16, psrc="fd00::1", pdst="fd00::2")), LINKTYPE_ETHERNET),
    "vlan": (bytes(E / Dot1Q(vlan=10) / TCP_SYN), LINKTYPE_ETHERNET),
    "ieee-802.3-llc": (bytes(Dot3(src="02:00:00:00:00:01", dst="01:80:c2:00:00:00") / LLC() / (b"\0" * 40)),
                       LINKTYPE_ETHERNET),
    "lldp": (bytes(Ether(src="02:00:00:00:00:01", dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\0" * 30)),
             LINKTYPE_ETHERNET),
    "raw-ipv4": (bytes(TCP_SYN), LINKTYPE_RAW),
    "raw-ipv6": (bytes(IPv6(src="fd00:1::1", dst="fd00:1::2") / UDP(dport=7)), LINKTYPE_RAW),
    "truncated-tcp": (bytes(E / TCP_SYN)[:14 + 20 + 10], LINKTYPE_ETHERNET),
    "ip-len-short": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2", len=24) / TCP()), LINKTYPE_ETHERNET),
}
DECIDED = {
    "ether-ip-tcp": ("Ether", "IP", "TCP"), "ether-ip-tcp-options": ("Ether", "IP", "TCP"),
    "ether-ip-udp": ("Ether", "IP", "UDP"), "ether-ip-icmp-echo": ("Ether", "IP", "ICMP"),
    "ether-ipv6-tcp": ("Ether", "IPv6", "TCP"), "raw-ipv4": ("IP", "TCP"), "raw-ipv6": ("IPv6", "UDP"),
    "vxlan": ("Ether", "IP", "UDP"), "ipip": ("Ether", "IP"), "arp-who-has": ("Ether", "ARP", "IP", "TCP"),
}
"""Frames the fast path must judge itself (what labs capture) for every key on these layers: no scapy, no None."""


def _scapy(frame: bytes, linktype: int, match: dict[str, Any]) -> bool:
    matcher = Matcher(match)
    return matcher.matches(matcher.dissect(frame, linktype))


def _cases(frame: bytes, linktype: int) -> list[dict[str, Any]]:
    """For each field the fast path reads and scapy finds in this frame: its own value, and another one."""
    pkt = Matcher({"IP.src": "0.0.0.0"}).dissect(frame, linktype)
    cases: list[dict[str, Any]] = []
    for layer, name in sorted(FIELDS):
        found = pkt.getlayer(layers.layer(layer))
        value = getattr(found, name, None) if found is not None else None
        if (layer, name) in ADDRESS:
            own = str(value) if value is not None else "10.9.9.9"
            cases += [{f"{layer}.{name}": own}, {f"{layer}.{name}": own + "0"}]
        else:
            own_n = int(value) if isinstance(value, int) else 1
            cases += [{f"{layer}.{name}": own_n}, {f"{layer}.{name}": own_n + 1}]
    cases.append({"IP.src": "10.0.1.10", "TCP.dport": 80, "Ether.dst": "02:00:00:00:00:02"})
    # and each value as the fast path reads it: a layer it sees where scapy sees none would answer True wrongly
    try:
        found, _complete = headers(frame, linktype == LINKTYPE_ETHERNET)
    except (ValueError, IndexError, OSError, struct.error):
        found = {}
    cases += [{f"{layer}.{name}": value} for layer, fields in found.items() for name, value in fields.items()]
    return cases


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_the_fast_path_answers_as_scapy_or_not_at_all(name: str) -> None:
    frame, linktype = FRAMES[name]
    undecided = []
    for match in _cases(frame, linktype):
        fast = fast_match(match)
        assert fast is not None, match
        answer = fast.matches(frame, linktype)
        if answer is None:
            if all(key.partition(".")[0] in DECIDED.get(name, ()) for key in match):
                undecided.append(match)
        else:
            assert answer == _scapy(frame, linktype, match), (name, match)
    assert undecided == [], f"{name}: left to scapy"


def test_a_common_frame_matches_and_mismatches_without_scapy() -> None:
    frame, linktype = FRAMES["ether-ip-tcp"]
    fast = fast_match({"IP.src": "10.0.1.10", "TCP.dport": 80, "Ether.src": "02:00:00:00:00:01", "TCP.flags": 2})
    assert fast is not None and fast.matches(frame, linktype) is True
    wrong = fast_match({"IP.src": "10.0.1.11"})
    assert wrong is not None and wrong.matches(frame, linktype) is False
    # TCP asked for, the outer IP carries UDP to 4789: the TCP scapy finds is inside VXLAN -- not ours to say
    inner = fast_match({"TCP.dport": 80})
    assert inner is not None and inner.matches(*FRAMES["vxlan"]) is None
    # an ARP frame holds no IP: a definite no
    assert fast_match({"IP.src": "10.0.10.1"}).matches(*FRAMES["arp-who-has"]) is False  # type: ignore[union-attr]


@pytest.mark.parametrize("match", [
    {"IP[2].dst": "10.0.0.1"}, {"VXLAN.vni": 42}, {"TCP.flags": "S"}, {"IP.proto": "tcp"}, {"IP.src": 167772161},
    {"TCP.dport": True}, {"IP.options": 0}, {"GRE.proto": 0x86DD},
])
def test_what_needs_scapy_is_left_to_it(match: dict[str, Any]) -> None:
    assert fast_match(match) is None


def test_every_field_read_is_a_field_of_scapy_s_layer() -> None:
    classes = {c.__name__: c for c in (Ether, ARP, IP, IPv6, TCP, UDP, ICMP)}
    for layer, name in FIELDS:
        assert name in {f.name for f in classes[layer].fields_desc}, (layer, name)
