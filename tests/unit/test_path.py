"""The observed path, without a kernel: frames built by hand go through the dissector and the hop matcher
(netlab.probes.dissect, netlab.probes.path) as the recorder's would."""

from __future__ import annotations

import socket
import struct

import pytest

from netlab import catalog
from netlab.api import Lab
from netlab.probes.dissect import dissect
from netlab.probes.path import Captured, PathRecord, ProbePath, Target, observe
from netlab.probes.recorder import target_of

ETHER, IPGRE = 1, 778
HOST, BROADCAST, OTHERHOST = 0, 1, 3


def mac(n: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, n])


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + payload


def tcp(sport: int, dport: int, flags: int = 0x02) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 65535, 0, 0)


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(kind: int, payload: bytes = b"\0" * 4) -> bytes:
    return struct.pack("!BBH", kind, 0, 0) + payload


def arp(op: int, sha: bytes, spa: str, tpa: str) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, socket.inet_aton(spa), b"\0" * 6,
                       socket.inet_aton(tpa))


def frame(node: str, t: float, ifname: str, out: bool, data: bytes, pkttype: int = HOST,
          hatype: int = ETHER) -> Captured:
    return Captured(node, t, ifname, out, 4 if out else pkttype, hatype, data)


# ------------------------------------------------------------------------------------------------ dissect

def test_a_tcp_segment_is_summarised_like_tcpdump() -> None:
    d = dissect(ether(mac(2), mac(1), 0x0800, ipv4("10.0.1.10", "10.0.2.10", 6, tcp(40000, 80))), ETHER)
    assert d.summary == "IP 10.0.1.10.40000 > 10.0.2.10.80 TCP [S]"
    assert d.flow is not None and (d.flow.proto, d.flow.sport, d.flow.dport) == ("tcp", 40000, 80)
    assert not d.broadcast


def test_the_innermost_packet_is_found_through_gre_with_a_key() -> None:
    inner = ipv4("10.1.0.10", "10.2.0.10", 1, icmp(8))
    gre = struct.pack("!HHI", 0x2000, 0x0800, 42) + inner
    d = dissect(ether(mac(2), mac(1), 0x0800, ipv4("10.0.1.1", "10.0.2.1", 47, gre)), ETHER)
    assert d.summary == "GRE 10.0.1.1 > 10.0.2.1 key 42 | IP 10.1.0.10 > 10.2.0.10 ICMP echo request"
    assert d.flow is not None and (d.flow.src, d.flow.dst, d.flow.kind) == ("10.1.0.10", "10.2.0.10", 8)


def test_the_innermost_frame_is_found_through_vxlan() -> None:
    inner = ether(mac(12), mac(11), 0x0800, ipv4("10.10.0.11", "10.10.0.12", 6, tcp(50000, 7)))
    vxlan = struct.pack("!B3sI", 0x08, b"\0\0\0", 4242 << 8) + inner
    d = dissect(ether(mac(2), mac(1), 0x0800, ipv4("10.0.1.1", "10.0.2.1", 17, udp(33000, 4789, vxlan))), ETHER)
    assert d.summary.startswith("VXLAN 10.0.1.1 > 10.0.2.1 vni 4242 | IP 10.10.0.11.50000 > 10.10.0.12.7")
    assert d.flow is not None and d.flow.dport == 7


def test_a_tunnel_device_frame_is_bare_ip() -> None:
    d = dissect(ipv4("10.1.0.10", "10.2.0.10", 1, icmp(0)), IPGRE)
    assert d.summary == "IP 10.1.0.10 > 10.2.0.10 ICMP echo reply"


def test_an_icmp_error_carries_the_packet_it_quotes() -> None:
    quoted = ipv4("10.0.1.10", "10.0.3.1", 1, icmp(8))
    d = dissect(ether(mac(1), mac(2), 0x0800, ipv4("10.0.1.1", "10.0.1.10", 1, icmp(3, b"\0" * 4 + quoted))), ETHER)
    assert d.flow is not None and d.flow.quoted is not None and d.flow.quoted.dst == "10.0.3.1"


def test_arp_and_broadcast_are_recognised() -> None:
    d = dissect(ether(b"\xff" * 6, mac(1), 0x0806, arp(1, mac(1), "10.0.2.1", "10.0.2.10")), ETHER)
    assert d.summary == "ARP who-has 10.0.2.10 tell 10.0.2.1" and d.broadcast


def test_a_truncated_frame_is_reported_not_raised() -> None:
    d = dissect(ether(mac(2), mac(1), 0x0800, b"\x45\x00"), ETHER)
    assert d.flow is None and "truncated" in d.summary


# ------------------------------------------------------------------------------------------------ hops

ROUTED = {("client", "eth0"): "links[0]", ("router", "eth0"): "links[0]", ("router", "eth1"): "links[1]",
          ("server", "eth0"): "links[1]"}


def routed_ping() -> list[Captured]:
    req1 = ether(mac(2), mac(1), 0x0800, ipv4("10.0.1.10", "10.0.2.10", 1, icmp(8), ttl=64))
    req2 = ether(mac(4), mac(3), 0x0800, ipv4("10.0.1.10", "10.0.2.10", 1, icmp(8), ttl=63))
    rep1 = ether(mac(3), mac(4), 0x0800, ipv4("10.0.2.10", "10.0.1.10", 1, icmp(0), ttl=64))
    rep2 = ether(mac(1), mac(2), 0x0800, ipv4("10.0.2.10", "10.0.1.10", 1, icmp(0), ttl=63))
    return [frame("client", 1.0, "eth0", True, req1), frame("router", 1.00001, "eth0", False, req1),
            frame("router", 1.00002, "eth1", True, req2), frame("server", 1.00003, "eth0", False, req2),
            frame("server", 1.00004, "eth0", True, rep1), frame("router", 1.00005, "eth1", False, rep1),
            frame("router", 1.00006, "eth0", True, rep2), frame("client", 1.00007, "eth0", False, rep2),
            frame("client", 1.00008, "lo", True, req1)]


def test_a_routed_ping_crosses_the_router_both_ways() -> None:
    path = observe(Target("p", "ping", "client", ("10.0.2.10",)), True, routed_ping(), ROUTED)
    assert path.edges("request") == [("client", "router"), ("router", "server")]
    assert path.edges("reply") == [("server", "router"), ("router", "client")]
    assert [o.direction for o in path.observations[:2]] == ["out", "in"]
    assert all(o.interface != "lo" for o in path.observations)


def test_a_receiver_stamped_before_its_sender_is_listed_after_it() -> None:
    """The kernel stamps per packet, to the microsecond: a veth hop can read as simultaneous, or reversed."""
    frames = routed_ping()
    frames[5] = Captured("router", 1.000035, "eth1", False, 0, ETHER, frames[5].data)  # before the server's out
    path = observe(Target("p", "ping", "client", ("10.0.2.10",)), True, frames, ROUTED)
    assert [(o.node, o.direction) for o in path.observations[4:6]] == [("server", "out"), ("router", "in")]
    assert [o.t for o in path.observations] == sorted(o.t for o in path.observations)
    assert path.edges("reply") == [("server", "router"), ("router", "client")]


def test_frames_are_joined_only_within_their_segment() -> None:
    wrong = {**ROUTED, ("router", "eth0"): "links[9]"}
    path = observe(Target("p", "ping", "client", ("10.0.2.10",)), True, routed_ping(), wrong)
    assert ("client", "router") not in path.edges("request")


def test_on_a_lan_the_directors_copy_is_not_taken_for_the_routers() -> None:
    """DR: the same IP packet crosses the LAN twice, router → director and director → rs1, with other MACs."""
    packet = ipv4("10.0.1.10", "10.0.10.100", 6, tcp(40000, 80))
    to_director = ether(mac(0x02), mac(0x01), 0x0800, packet)
    to_rs1 = ether(mac(0x11), mac(0x02), 0x0800, packet)
    reply = ether(mac(0x01), mac(0x11), 0x0800, ipv4("10.0.10.100", "10.0.1.10", 6, tcp(80, 40000, 0x12)))
    lan = {("router", "eth1"): "lans.s", ("director", "eth0"): "lans.s", ("rs1", "eth0"): "lans.s",
           ("rs2", "eth0"): "lans.s"}
    frames = [frame("router", 1.0, "eth1", True, to_director), frame("director", 1.1, "eth0", False, to_director),
              frame("director", 1.2, "eth0", True, to_rs1), frame("rs1", 1.3, "eth0", False, to_rs1),
              frame("rs2", 1.3, "eth0", False, to_rs1, pkttype=OTHERHOST),
              frame("rs1", 1.4, "eth0", True, reply), frame("router", 1.5, "eth1", False, reply)]
    path = observe(Target("web", "http", "client", ("10.0.10.100",), 80), True, frames, lan)
    assert path.edges("request") == [("router", "director"), ("director", "rs1")]
    assert path.edges("reply") == [("rs1", "router")]


def test_a_bridge_inside_a_node_is_a_hop_a_flooded_copy_is_not() -> None:
    """vxlan-overlay: v1 bridges h1's frame (addressed to h2's MAC) from eth0 into vxlan1; v2 from vxlan1 to eth0."""
    f = ether(mac(12), mac(11), 0x0800, ipv4("10.10.0.11", "10.10.0.12", 1, icmp(8)))
    segments = {("h1", "eth0"): "links[0]", ("v1", "eth0"): "links[0]", ("v2", "eth0"): "links[1]",
                ("h2", "eth0"): "links[1]", ("x", "eth0"): "links[0]"}
    frames = [frame("h1", 1.0, "eth0", True, f), frame("v1", 1.0, "eth0", False, f, pkttype=OTHERHOST),
              frame("x", 1.0, "eth0", False, f, pkttype=OTHERHOST),  # a flooded copy: x does not pass it on
              frame("v1", 1.1, "vxlan1", True, f), frame("v2", 1.2, "vxlan1", False, f, pkttype=OTHERHOST),
              frame("v2", 1.3, "eth0", True, f), frame("h2", 1.3, "eth0", False, f)]
    path = observe(Target("p", "ping", "h1", ("10.10.0.12",)), True, frames, segments)
    assert path.edges("request") == [("h1", "v1"), ("v1", "v2"), ("v2", "h2")]
    assert "x" not in {o.node for o in path.observations}


def test_a_broadcast_reaches_every_member_of_its_lan() -> None:
    ask = ether(b"\xff" * 6, mac(1), 0x0806, arp(1, mac(1), "10.0.10.1", "10.0.10.100"))
    answer = ether(mac(1), mac(2), 0x0806, arp(2, mac(2), "10.0.10.100", "10.0.10.1"))
    frames = [frame("router", 1.0, "eth1", True, ask)]
    frames += [frame(n, 1.001, "eth0", False, ask, pkttype=BROADCAST) for n in ("director", "rs1", "rs2")]
    frames += [frame("director", 1.002, "eth0", True, answer), frame("router", 1.003, "eth1", False, answer)]
    lan = {(n, i): "lans.s" for n, i in (("router", "eth1"), ("director", "eth0"), ("rs1", "eth0"), ("rs2", "eth0"))}
    path = observe(Target("arp", "arp", "router", ("10.0.10.100",)), True, frames, lan)
    assert path.edges("request") == [("router", "director"), ("router", "rs1"), ("router", "rs2")]
    assert path.edges("reply") == [("director", "router")]


def test_a_reply_after_nat_is_known_by_the_clients_port() -> None:
    """The client's port, seen where the probe ran, marks packets whose addresses NAT has rewritten."""
    request = ether(mac(2), mac(1), 0x0800, ipv4("10.0.1.10", "10.0.1.100", 6, tcp(41000, 80)))
    natted = ether(mac(4), mac(3), 0x0800, ipv4("10.0.1.10", "192.168.10.11", 6, tcp(41000, 8080)))
    reply = ether(mac(3), mac(4), 0x0800, ipv4("192.168.10.11", "10.0.1.10", 6, tcp(8080, 41000, 0x12)))
    other = ether(mac(3), mac(4), 0x0800, ipv4("192.168.10.11", "10.0.1.10", 6, tcp(22, 50000)))
    frames = [frame("client", 1.0, "eth0", True, request), frame("director", 1.1, "eth0", False, request),
              frame("director", 1.2, "eth1", True, natted), frame("rs1", 1.3, "eth0", False, natted),
              frame("rs1", 1.4, "eth0", True, reply), frame("director", 1.5, "eth1", False, reply),
              frame("rs1", 1.6, "eth0", True, other)]
    path = observe(Target("web", "http", "client", ("10.0.1.100",), 80), True, frames)
    assert path.edges("request") == [("client", "director"), ("director", "rs1")]
    assert path.edges("reply") == [("rs1", "director")]
    assert len(path.observations) == 6


def test_an_icmp_error_about_a_request_is_part_of_the_reply() -> None:
    request = ether(mac(2), mac(1), 0x0800, ipv4("10.0.1.10", "10.0.3.1", 1, icmp(8)))
    error = ether(mac(1), mac(2), 0x0800, ipv4("10.0.1.1", "10.0.1.10", 1, icmp(3, b"\0" * 4 + request[14:])))
    frames = [frame("client", 1.0, "eth0", True, request), frame("router", 1.1, "eth0", False, request),
              frame("router", 1.2, "eth0", True, error), frame("client", 1.3, "eth0", False, error)]
    path = observe(Target("p", "ping", "client", ("10.0.3.1",)), False, frames)
    assert path.edges("reply") == [("router", "client")]


def test_the_record_survives_json_and_refuses_anything_else() -> None:
    path = observe(Target("p", "ping", "client", ("10.0.2.10",)), True, routed_ping(), ROUTED)
    record = PathRecord("routed", "2025-01-01T00:00:00+00:00", (path,))
    assert PathRecord.from_json(record.to_json()) == record
    for text in ("[]", '{"format": 99}', "not json", '{"format": 1, "lab": "x"}'):
        with pytest.raises(ValueError, match="not a netlab path record"):
            PathRecord.from_json(text)


@pytest.mark.parametrize("lab", ["routed", "dr-mode", "underlay"])
def test_every_traffic_probe_of_a_catalog_lab_has_a_target_and_no_other(lab: str) -> None:
    from netlab.probes.context import LabView
    from netlab.probes.model import TRAFFIC_KINDS

    assert lab in catalog.names()
    view = LabView.from_resolved(Lab.load(lab).resolved)
    assert view.probes
    for probe in view.probes.values():
        assert (target_of(probe) is not None) == (probe.kind in TRAFFIC_KINDS)


def test_an_empty_path_has_no_edges() -> None:
    assert ProbePath("p", "ping", "a", ("10.0.0.1",), False).edges("request") == []
