"""Tunnels, sub-interfaces and node bridges from YAML to plan and netlink bytes, without root.

The catalog labs' whole plans are golden files (tests/golden/plans); these pin the decisions behind
them: default names and underlay addresses, indexes free in both namespaces for a sub-interface made
across namespaces, bridge ports, the message bytes, derived kernel features, and validation.
"""

from __future__ import annotations

import struct

import pytest

from netlab.features.tunnels.export import commands
from netlab.features.tunnels.kernel import bridge_port, encode, tunnel_data
from netlab.kernel.netlink import IFLA_NET_NS_FD, nla_u32
from netlab.model.plan import CreateBridge, CreateSubInterface, CreateTunnel, LinkUp, SetBridgePort
from netlab.requirements import derive
from tests import helpers
from tests.helpers import planned, valid

BASE = """
name: t
nodes:
  r1: {routes: [{to: 10.0.2.0/24, via: 10.0.1.254}]}
  u: {}
  r2: {routes: [{to: 10.0.1.0/24, via: 10.0.2.254}]}
links:
  - a: {node: r1, address: 10.0.1.1/24}
    b: {node: u, address: 10.0.1.254/24}
  - a: {node: u, address: 10.0.2.254/24}
    b: {node: r2, address: 10.0.2.1/24}
"""


def problems(text: str) -> str:
    """Every problem of ``text`` as the CLI prints them."""
    return "\n".join(d.render() for d in helpers.problems(text, "t.yml"))


def test_gre_tunnel_defaults_name_and_underlay_addresses() -> None:
    p = planned(BASE + "tunnels:\n  - {kind: gre, key: 7, ttl: 64, a: {node: r1, address: 192.168.9.1/30},"
                " b: {node: r2, address: 192.168.9.2/30}}\n")
    t1, t2 = [a for a in p.actions if isinstance(a, CreateTunnel)]
    assert (t1.netns, t1.name, t1.index, t1.local, t1.remote, t1.key, t1.ttl) == (
        "nl-t.r1", "gre1", 33, "10.0.1.1", "10.0.2.1", 7, 64)
    assert (t2.netns, t2.local, t2.remote) == ("nl-t.r2", "10.0.2.1", "10.0.1.1")
    assert "gre nl-t.r1:gre1 local 10.0.1.1 remote 10.0.2.1 key 7 ttl 64" in {a.describe() for a in p.actions}


def test_routes_through_a_tunnel_validate_and_get_its_index() -> None:
    text = BASE.replace("r1: {routes: [", "r1: {routes: [{to: 10.2.0.0/24, via: 192.168.9.2}, {to: 10.3.0.0/24, "
                        "dev: ipip1}, ") + (
        "tunnels:\n  - {kind: ipip, a: {node: r1, address: 192.168.9.1/30}, b: {node: r2, address: 192.168.9.2/30}}\n")
    routes = [a for a in planned(text).actions if a.phase == "routes" and a.netns == "nl-t.r1"]
    assert [(r.to, r.dev, r.dev_index) for r in routes][:2] == [("10.2.0.0/24", None, None),  # type: ignore[union-attr]
                                                                 ("10.3.0.0/24", "ipip1", 33)]


def test_vxlan_in_a_node_bridge_and_its_default_port() -> None:
    text = BASE.replace("r1: {routes:", "r1: {bridges: {br0: {members: [vxlan1, eth0]}}, routes:") + (
        "tunnels:\n  - {kind: vxlan, vni: 42, a: {node: r1}, b: {node: r2}}\n")
    p = planned(text)
    (br,) = [a for a in p.actions if isinstance(a, CreateBridge)]
    vx = next(a for a in p.actions if isinstance(a, CreateTunnel) and a.netns == "nl-t.r1")
    assert (br.netns, br.name, br.index, vx.index, vx.vni, vx.port) == ("nl-t.r1", "br0", 33, 34, 42, 4789)
    ups = {(a.name, a.master_index) for a in p.actions if isinstance(a, LinkUp) and a.netns == "nl-t.r1"}
    assert {("eth0", 33), ("vxlan1", 33), ("br0", None)} <= ups


def test_subinterface_across_namespaces_gets_an_index_free_in_both() -> None:
    text = BASE.replace("  u: {}", "  u: {}\n  m: {subinterfaces: [{kind: macvlan, parent: 'u:eth2', "
                        "address: 10.5.0.2/24}]}") + "  - a: {node: u}\n    b: {node: r2}\n"
    p = planned(text)
    (sub,) = [a for a in p.actions if isinstance(a, CreateSubInterface)]
    # u has eth0..eth2 at 32..34; m's counter starts at 32: the first index free in both is 35
    assert (sub.netns, sub.parent_name, sub.parent_index, sub.target_netns, sub.name, sub.index, sub.mode) == (
        "nl-t.u", "eth2", 34, "nl-t.m", "mv0", 35, "bridge")
    assert p.by_phase()[2][0] == "sublinks"  # after every veth (the parent) exists


def test_netlink_bytes() -> None:
    gre = CreateTunnel("ns", "gre1", 33, "gre", "10.0.1.1", "10.0.2.1", 42, None, None, 64, 1400)
    body, _type, _flags = encode(gre, lambda ns: 99)
    assert struct.pack(">I", 42) in body and bytes([10, 0, 2, 1]) in body and struct.pack("=I", 1400) in body
    vx = CreateTunnel("ns", "vxlan1", 33, "vxlan", "10.0.1.1", "10.0.2.1", None, 4242, 4789, None, None)
    body, _type, _flags = encode(vx, lambda ns: 99)
    assert struct.pack(">H", 4789) in body and b"vxlan\0" in body
    ipvl = CreateSubInterface("parent", "eth1", 33, "ipvlan", "l2", "child", "ipvl0", 40, None, None)
    body, _type, _flags = encode(ipvl, lambda ns: 99 if ns == "child" else -1)
    assert nla_u32(IFLA_NET_NS_FD, 99) in body and struct.unpack_from("=i", body, 4)[0] == 40


def test_gretap_and_sit_share_gre_and_ipip_attributes_under_their_own_kind() -> None:
    """gretap is GRE's netlink data (key included) under kind "gretap"; sit is IPIP's under "sit", and
    no IFLA_IPTUN_PROTO: the kernel's default, IPv6 only (``ip`` would send 0, any protocol)."""
    gre = CreateTunnel("ns", "gre1", 33, "gre", "10.0.1.1", "10.0.2.1", 42, None, None, None, None)
    tap = CreateTunnel("ns", "gretap1", 33, "gretap", "10.0.1.1", "10.0.2.1", 42, None, None, None, None)
    assert tunnel_data(tap) == tunnel_data(gre)
    ipip = CreateTunnel("ns", "ipip1", 33, "ipip", "10.0.1.1", "10.0.2.1", None, None, None, 64, None)
    sit = CreateTunnel("ns", "sit1", 33, "sit", "10.0.1.1", "10.0.2.1", None, None, None, 64, None)
    assert tunnel_data(sit) == tunnel_data(ipip)
    assert b"sit\0" in encode(sit, lambda ns: 99)[0]
    assert commands(sit) == ["ip -n ns link add sit1 type sit mode ip6ip local 10.0.1.1 remote 10.0.2.1 ttl 64"]
    inherit = CreateTunnel("ns", "sit1", 33, "sit", "10.0.1.1", "10.0.2.1", None, None, None, None, None)
    assert commands(inherit)[0].endswith(" ttl 64")  # the kernel's default for netlab's message; `ip` would send 0
    assert commands(tap) == ["ip -n ns link add gretap1 type gretap local 10.0.1.1 remote 10.0.2.1 key 42"]


def test_gretap_and_sit_get_their_names_mtus_and_requirements() -> None:
    text = BASE + ("tunnels:\n  - {kind: gretap, key: 5, a: {node: r1, address: 192.168.9.1/24}, b: {node: r2}}\n"
                   "  - {kind: sit, a: {node: r1, address: 'fd00::1/64'}, b: {node: r2, address: 'fd00::2/64'}}\n")
    p = planned(text)
    made = {(a.name, a.kind) for a in p.actions if isinstance(a, CreateTunnel)}
    assert made == {("gretap1", "gretap"), ("sit1", "sit")}
    assert {"gretap", "sit"} <= {r.feature for r in derive(valid(text))}


def test_requirements_are_derived() -> None:
    text = BASE.replace("r1: {routes:", "r1: {bridges: {br0: {members: [vxlan1]}}, routes:").replace(
        "  u: {}", "  u: {}\n  m: {subinterfaces: [{kind: ipvlan, parent: 'u:eth0'}]}") + (
        "tunnels:\n  - {kind: vxlan, vni: 42, a: {node: r1}, b: {node: r2}}\n"
        "  - {kind: gre, a: {node: r1}, b: {node: r2}}\n")
    features = {r.feature for r in derive(valid(text))}
    assert {"vxlan", "gre", "ipvlan", "bridge"} <= features


@pytest.mark.parametrize(("snippet", "expected"), [
    ("tunnels:\n  - {kind: gre, a: {node: r1, interface: tunl0}, b: {node: r2}}\n", "kernel fallback device"),
    ("tunnels:\n  - {kind: gre, a: {node: r1, interface: abcdefghijklmnop}, b: {node: r2}}\n", "at most 15"),
    ("tunnels:\n  - {kind: gre, a: {node: r1}, b: {node: r9}}\n", "unknown node 'r9'"),
    ("tunnels:\n  - {kind: vxlan, vni: 1, a: {node: r1}, b: {node: r2}}\n"
     "  - {kind: vxlan, vni: 1, a: {node: r1, interface: vx}, b: {node: r2, interface: vx}}\n", "VNI 1"),
    ("tunnels:\n  - {kind: gre, key: 1, a: {node: r1}, b: {node: r2}}\n"
     "  - {kind: gre, key: 1, a: {node: r1, interface: g}, b: {node: r2, interface: g}}\n", "with key 1"),
    ("tunnels:\n  - {kind: ipip, a: {node: r1, address: 'fd00::1/64'}, b: {node: r2}}\n", "IPIP carries only IPv4"),
    ("tunnels:\n  - {kind: sit, a: {node: r1, address: 10.9.0.1/30}, b: {node: r2}}\n", "sit tunnel carries only IPv6"),
    ("tunnels:\n  - {kind: sit, key: 3, a: {node: r1}, b: {node: r2}}\n", "a sit tunnel has none"),
    ("tunnels:\n  - {kind: vxlan, a: {node: r1}, b: {node: r2}}\n", "needs `vni`"),
    ("tunnels:\n  - {kind: gre, mode: x, a: {node: r1}, b: {node: r2}}\n", "unknown key 'mode'"),
])
def test_validation(snippet: str, expected: str) -> None:
    assert expected in problems(BASE + snippet)


def test_an_end_without_a_route_to_the_other_is_refused() -> None:
    text = BASE.replace("r2: {routes: [{to: 10.0.1.0/24, via: 10.0.2.254}]}", "r2: {}")
    assert "r2 cannot reach the other end's underlay address 10.0.1.1" in problems(
        text + "tunnels:\n  - {kind: gre, a: {node: r1}, b: {node: r2}}\n")


@pytest.mark.parametrize(("sub", "expected"), [
    ("{kind: ipvlan, parent: 'u:eth0', mode: bridge}", "not an ipvlan mode"),
    ("{kind: macvlan, parent: 'u:eth9'}", "no link or LAN interface 'eth9'"),
    ("{kind: macvlan, parent: eth0}", "has no link or LAN interface 'eth0'"),
    ("{kind: macvlan, parent: 'u:eth0', mac: '01:00:00:00:00:01'}", "not a unicast MAC"),
])
def test_subinterface_validation(sub: str, expected: str) -> None:
    assert expected in problems(BASE.replace("  u: {}", f"  u: {{}}\n  m: {{subinterfaces: [{sub}]}}"))


def test_ipv6_off_refuses_an_inner_ipv6_address() -> None:
    text = BASE.replace("name: t", "name: t\nipv6: false") + (
        "tunnels:\n  - {kind: gre, a: {node: r1, address: 'fd00::1/64'}, b: {node: r2, address: 'fd00::2/64'}}\n")
    assert "tunnels[0].a.address: IPv6 address in a lab with `ipv6: false`" in problems(text)



def test_hairpin_ports_are_set_after_every_port_has_its_master() -> None:
    """The kernel passes a port setting to the master's driver: the SetBridgePort must follow the LinkUp that
    enslaves the port (the core's LinkUps come first in the phase), and it carries IFLA_BRPORT_MODE = 1."""
    text = BASE.replace("  u: {}", "  u: {bridges: {br0: {members: [eth0, eth1], hairpin: [eth1]}}}")
    actions = list(planned(text).actions)
    hp = [i for i, a in enumerate(actions) if isinstance(a, SetBridgePort)]
    assert [(actions[i].netns, actions[i].name) for i in hp] == [("nl-t.u", "eth1")]  # type: ignore[union-attr]
    up = [i for i, a in enumerate(actions) if isinstance(a, LinkUp) and a.netns == "nl-t.u" and a.name == "eth1"]
    assert up and up[0] < hp[0] and actions[up[0]].master_index  # type: ignore[union-attr]
    body, _t, flags = bridge_port(actions[hp[0]], lambda ns: -1)  # type: ignore[arg-type]
    assert b"bridge\0" in body and flags == 0
    assert commands(actions[hp[0]]) == ["ip -n nl-t.u link set eth1 type bridge_slave hairpin on"]  # type: ignore[arg-type]
    assert "'eth9' is not a member of bridge br0" in problems(
        BASE.replace("  u: {}", "  u: {bridges: {br0: {members: [eth0], hairpin: [eth9]}}}"))
