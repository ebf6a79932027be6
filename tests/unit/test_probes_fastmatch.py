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
    "vxlan": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4000, dport=4789) / VXLAN(flags=8, vni=42)
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
    # inner headers (`IP[2].dst`): what the tunnel labs capture, and the shapes next to them the walk must refuse
    "gre-key-ip": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / GRE(key_present=1, key=42, proto=0x0800)
                         / IP(src="10.1.0.10", dst="10.2.0.10") / ICMP(id=1, seq=2)), LINKTYPE_ETHERNET),
    "gre-chksum-seq": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / GRE(chksum_present=1, seqnum_present=1,
                                                                           sequence_number=9, proto=0x0800)
                             / IP(src="10.1.0.10", dst="10.2.0.10") / UDP(dport=53)), LINKTYPE_ETHERNET),
    "gretap-arp": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(proto=0x6558)
                         / Ether(src="02:00:00:00:00:0a", dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, pdst="10.9.0.2")),
                   LINKTYPE_ETHERNET),
    "gre-arp": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(proto=0x0806) / ARP(op=2, psrc="10.9.0.2")),
                LINKTYPE_ETHERNET),
    "gre-pptp": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(version=1, key_present=1, proto=0x880B)
                       / Raw(b"\0" * 12)), LINKTYPE_ETHERNET),
    "gre-routing": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(routing_present=1, proto=0x0800)
                          / Raw(b"\0" * 24)), LINKTYPE_ETHERNET),
    "gre-in-ipv6": (bytes(E / IPv6(src="fd00::1", dst="fd00::2") / GRE(proto=0x0800)
                          / IP(src="192.168.1.1", dst="192.168.1.2") / TCP(dport=22)), LINKTYPE_ETHERNET),
    "ipip-tcp": (bytes(E / IP(src="10.0.2.2", dst="10.0.3.11") / IP(src="10.0.1.10", dst="10.0.2.100")
                       / TCP(sport=40000, dport=80)), LINKTYPE_ETHERNET),
    "ipip-in-ipip": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2") / IP(src="10.0.0.3", dst="10.0.0.4")
                           / IP(src="10.0.0.5", dst="10.0.0.6") / UDP()), LINKTYPE_ETHERNET),
    "ipip-fragment": (bytes(E / IP(src="10.0.0.1", dst="10.0.0.2", proto=4, frag=10) / Raw(b"\x45" + b"\0" * 30)),
                      LINKTYPE_ETHERNET),
    "ipv6-in-ipv6": (bytes(E / IPv6(src="fd00::1", dst="fd00::2") / IPv6(src="fd01::1", dst="fd01::2") / UDP()),
                     LINKTYPE_ETHERNET),
    "ipv6-nh-icmpv4": (bytes(E / IPv6(src="fd00::1", dst="fd00::2", nh=1) / ICMP()), LINKTYPE_ETHERNET),
    "vxlan-arp": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / UDP(sport=50000, dport=4789)
                        / VXLAN(flags=8, vni=4242)
                        / Ether(src="02:00:00:10:00:12", dst="ff:ff:ff:ff:ff:ff")
                        / ARP(op=1, psrc="10.10.0.11", pdst="10.10.0.12")), LINKTYPE_ETHERNET),
    "vxlan-by-sport": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / UDP(sport=8472, dport=60000)
                             / VXLAN(flags=8, vni=7)
                             / Ether() / IP(src="10.10.0.11", dst="10.10.0.12") / ICMP()), LINKTYPE_ETHERNET),
    "vxlan-gpe": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / UDP(dport=4790) / VXLAN(flags=0x0C, NextProtocol=1,
                                                                                         vni=5)
                        / IP(src="10.10.0.1", dst="10.10.0.2")), LINKTYPE_ETHERNET),
    "gre-in-udp": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / UDP(sport=4789, dport=4754) / GRE(proto=0x0800)
                         / IP(src="10.10.0.1", dst="10.10.0.2")), LINKTYPE_ETHERNET),
    "vxlan-in-ipv6": (bytes(E / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1000, dport=4789)
                            / VXLAN(flags=8, vni=9)
                            / Ether() / IPv6(src="fd01::1", dst="fd01::2") / TCP(dport=443)), LINKTYPE_ETHERNET),
    "vxlan-igmp": (bytes(E / IP(src="10.0.2.1", dst="10.0.1.1") / UDP(sport=45186, dport=4789) / VXLAN(flags=8, vni=1)
                         / Ether(dst="01:00:5e:00:00:16") / IP(src="0.0.0.0", dst="224.0.0.22", proto=2, ttl=1)
                         / Raw(bytes.fromhex("2200f9930000000104000000e00000fb"))), LINKTYPE_ETHERNET),
    "vxlan-icmpv6-rs": (bytes(E / IP(src="10.0.2.1", dst="10.0.1.1") / UDP(sport=4000, dport=4789)
                              / VXLAN(flags=8, vni=1) / Ether(dst="33:33:00:00:00:02")
                              / IPv6(src="fe80::1", dst="ff02::2", nh=58, hlim=255) / Raw(b"\x85\x00" + b"\0" * 6)),
                        LINKTYPE_ETHERNET),
    "ipv6-no-next-header": (bytes(E / IPv6(src="fd00::1", dst="fd00::2", nh=59) / Raw(b"\0" * 8)), LINKTYPE_ETHERNET),
    "vxlan-next-protocol": (bytes(E / IP(src="10.0.1.1", dst="10.0.2.1") / UDP(dport=4789) / VXLAN(vni=3) / Ether()
                                  / IP(src="10.10.0.1", dst="10.10.0.2")), LINKTYPE_ETHERNET),
    "raw-ipip": (bytes(IP(src="10.0.0.1", dst="10.0.0.2") / IP(src="10.1.0.1", dst="10.1.0.2") / ICMP()),
                 LINKTYPE_RAW),
}
DECIDED = {
    "ether-ip-tcp": ("Ether", "IP", "TCP"), "ether-ip-tcp-options": ("Ether", "IP", "TCP"),
    "ether-ip-udp": ("Ether", "IP", "UDP"), "ether-ip-icmp-echo": ("Ether", "IP", "ICMP"),
    "ether-ipv6-tcp": ("Ether", "IPv6", "TCP"), "raw-ipv4": ("IP", "TCP"), "raw-ipv6": ("IPv6", "UDP"),
    "vxlan": ("Ether", "IP", "UDP", "VXLAN", "TCP"), "ipip": ("Ether", "IP", "TCP"),
    "arp-who-has": ("Ether", "ARP", "IP", "TCP"),
    "gre-key-ip": ("Ether", "IP", "GRE", "ICMP"), "gre-chksum-seq": ("Ether", "IP", "GRE", "UDP"),
    "gretap-arp": ("Ether", "IP", "GRE", "ARP", "TCP"), "gre-arp": ("Ether", "IP", "GRE", "ARP", "UDP"),
    "gre-in-ipv6": ("Ether", "IPv6", "GRE", "IP", "TCP"), "ipip-tcp": ("Ether", "IP", "TCP"),
    "ipip-in-ipip": ("Ether", "IP", "UDP"), "ipv6-in-ipv6": ("Ether", "IPv6", "UDP"),
    "vxlan-arp": ("Ether", "IP", "UDP", "VXLAN", "ARP", "TCP", "ICMP"),
    "vxlan-by-sport": ("Ether", "IP", "UDP", "VXLAN"), "vxlan-in-ipv6": ("Ether", "IPv6", "UDP", "VXLAN", "TCP"),
    "raw-ipip": ("IP",),
    "vxlan-igmp": ("Ether", "IP", "UDP", "VXLAN", "ARP", "TCP", "ICMP", "GRE", "IPv6"),
    "vxlan-icmpv6-rs": ("Ether", "IP", "UDP", "VXLAN", "IPv6", "ARP", "TCP", "ICMP"),
    "ipv6-no-next-header": ("Ether", "IPv6", "TCP", "UDP", "IP"),
}
"""Frames the fast path must judge itself (what labs capture) for every key on these layers: no scapy, no None."""
COMPLETE = {"arp-who-has", "vxlan-arp", "gretap-arp", "gre-arp", "vxlan-igmp", "vxlan-icmpv6-rs", "ipv6-no-next-header",
            "ether-ip-icmp-echo", "gre-key-ip", "raw-ipip"}
"""Frames whose walk ends where nothing a key names can follow (ARP, ICMP, IGMP, ICMPv6): a layer scapy does not
find there is a definite no, from the fast path too."""


def _scapy(frame: bytes, linktype: int, match: dict[str, Any]) -> bool:
    matcher = Matcher(match)
    return matcher.matches(matcher.dissect(frame, linktype))


def _cases(frame: bytes, linktype: int) -> list[dict[str, Any]]:
    """For each field the fast path reads and scapy finds in this frame: its own value, and another one."""
    pkt = Matcher({"IP.src": "0.0.0.0"}).dissect(frame, linktype)
    cases: list[dict[str, Any]] = []
    for layer, name in sorted(FIELDS):
        for nth in (1, 2, 3):
            found = pkt.getlayer(layers.layer(layer), nth)
            value = getattr(found, name, None) if found is not None else None
            key = f"{layer}.{name}" if nth == 1 else f"{layer}[{nth}].{name}"
            if (layer, name) in ADDRESS:
                own = str(value) if value is not None else "10.9.9.9"
                cases += [{key: own}, {key: own + "0"}]
            else:
                own_n = int(value) if isinstance(value, int) else 1
                cases += [{key: own_n}, {key: own_n + 1}]
    cases.append({"IP.src": "10.0.1.10", "TCP.dport": 80, "Ether.dst": "02:00:00:00:00:02"})
    # and each value as the fast path reads it: a layer it sees where scapy sees none would answer True wrongly
    try:
        found, _complete = headers(frame, linktype == LINKTYPE_ETHERNET)
    except (ValueError, IndexError, OSError, struct.error):
        found = {}
    cases += [{f"{layer}[{nth}].{name}": value} for layer, seen in found.items()
              for nth, fields in enumerate(seen, 1) for name, value in fields.items()]
    return cases


def _present(frame: bytes, linktype: int, key: str, layer_only: bool = False) -> bool:
    """Whether scapy finds the key's layer (n-th of its kind) in the frame, with the field set: where it does not,
    the fast path may leave the "no" to scapy (it cannot know nothing else follows a TCP payload, and a GRE
    checksum that is not there is scapy's None)."""
    m = layers.KEY.match(key)
    assert m is not None
    pkt = Matcher({"IP.src": "0.0.0.0"}).dissect(frame, linktype)
    found = pkt.getlayer(layers.layer(m["layer"]), int(m["nth"] or 1))
    return found is not None and (layer_only or getattr(found, m["field"], None) is not None)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_the_fast_path_answers_as_scapy_or_not_at_all(name: str) -> None:
    frame, linktype = FRAMES[name]
    undecided = []
    for match in _cases(frame, linktype):
        fast = fast_match(match)
        assert fast is not None, match
        answer = fast.matches(frame, linktype)
        if answer is None:
            if all(key.partition(".")[0].partition("[")[0] in DECIDED.get(name, ())
                   and (_present(frame, linktype, key) or (name in COMPLETE and not _present(frame, linktype, key,
                                                                                             layer_only=True)))
                   for key in match):
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
    # TCP asked for, the outer IP carries UDP to 4789: the first TCP is the one inside VXLAN, as scapy finds it
    inner = fast_match({"TCP.dport": 80})
    assert inner is not None and inner.matches(*FRAMES["vxlan"]) is True
    # ... but after a VXLAN header of GPE's form (scapy's own default on top of Ether), the walk leaves it to scapy
    assert inner.matches(*FRAMES["vxlan-next-protocol"]) is None
    # an ARP frame holds no IP: a definite no
    assert fast_match({"IP.src": "10.0.10.1"}).matches(*FRAMES["arp-who-has"]) is False  # type: ignore[union-attr]


@pytest.mark.parametrize(("frame", "match", "answer"), [
    ("ipip-tcp", {"IP.src": "10.0.2.2", "IP[2].src": "10.0.1.10", "IP[2].dst": "10.0.2.100"}, True),
    ("ipip-tcp", {"IP[2].dst": "10.0.2.101"}, False),
    ("gre-key-ip", {"GRE.key": 42, "IP[2].src": "10.1.0.10", "ICMP.seq": 2}, True),
    ("gre-key-ip", {"GRE.key": 43}, False),
    ("vxlan-arp", {"VXLAN.vni": 4242, "ARP.op": 1, "ARP.pdst": "10.10.0.12", "Ether[2].dst": "ff:ff:ff:ff:ff:ff"},
     True),
    ("vxlan-arp", {"IP[2].src": "10.10.0.11"}, False),  # the walk ended at ARP: no inner IP, for certain
    ("gre-in-ipv6", {"IPv6.src": "fd00::1", "GRE.proto": 0x0800, "IP.dst": "192.168.1.2"}, True),
])
def test_the_tunnel_labs_matches_are_judged_without_scapy(frame: str, match: dict[str, Any], answer: bool) -> None:
    """What the catalog's tunnel labs match on (IPIP's and GRE's inner header, VXLAN's VNI and the ARP inside)."""
    fast = fast_match(match)
    assert fast is not None and fast.matches(*FRAMES[frame]) is answer
    assert _scapy(*FRAMES[frame], match) is answer


@pytest.mark.parametrize("match", [
    {"IP[0].dst": "10.0.0.1"}, {"VXLAN.flags": 8}, {"TCP.flags": "S"}, {"IP.proto": "tcp"}, {"IP.src": 167772161},
    {"TCP.dport": True}, {"IP.options": 0}, {"GRE.proto": "IPv6"},
])
def test_what_needs_scapy_is_left_to_it(match: dict[str, Any]) -> None:
    assert fast_match(match) is None


def test_every_field_read_is_a_field_of_scapy_s_layer() -> None:
    classes = {c.__name__: c for c in (Ether, ARP, IP, IPv6, TCP, UDP, ICMP, GRE, VXLAN)}
    for layer, name in FIELDS:
        assert name in {f.name for f in classes[layer].fields_desc}, (layer, name)
