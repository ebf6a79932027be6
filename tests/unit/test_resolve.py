"""Stage 3, resolve: default names, indexes, namespace names, IPv6 and sysctl defaults."""

from __future__ import annotations

import pytest

from netlab.model.resolved import ResolvedInterface, ResolvedLab
from netlab.naming import netns_name
from netlab.stages.resolve import FIRST_INDEX
from tests.helpers import block, lan, resolved, routed, two_nodes

ROUTER_LAB = routed("r")


def iface(lab: ResolvedLab, node: str, name: str) -> ResolvedInterface:
    for candidate in lab.node(node).interfaces:
        if candidate.name == name:
            return candidate
    raise AssertionError(f"{node} has no interface {name}: {[i.name for i in lab.node(node).interfaces]}")


def names_of(lab: ResolvedLab, node: str) -> list[str]:
    return [i.name for i in lab.node(node).interfaces]


def test_namespaces_are_nl_lab_node() -> None:
    lab = resolved(ROUTER_LAB)
    assert [n.netns for n in lab.nodes] == ["nl-r.h1", "nl-r.h2", "nl-r.r"]
    assert netns_name("routed", "client") == "nl-routed.client"


def test_lan_namespace_and_bridge() -> None:
    lab = resolved(lan(["h1", "h2"], name="lab1", keys=["mtu: 1400"]))
    (seg,) = lab.lans
    assert (seg.name, seg.netns, seg.bridge, seg.mtu) == ("seg", "nl-lab1.seg", "br0", 1400)
    assert lab.namespaces == ("nl-lab1.h1", "nl-lab1.h2", "nl-lab1.seg")


def test_default_interface_names_count_per_node_in_file_order() -> None:
    lab = resolved(ROUTER_LAB)
    assert names_of(lab, "r") == ["eth0", "eth1"]
    assert names_of(lab, "h1") == ["eth0"]
    assert names_of(lab, "h2") == ["eth0"]


def test_default_interface_names_skip_names_given_explicitly() -> None:
    lab = resolved("""\
        name: t
        nodes: {a: {}, b: {}, c: {}, d: {}}
        links:
          - a: {node: a}
            b: {node: b}
          - a: {node: a, interface: eth0}
            b: {node: c}
          - a: {node: a}
            b: {node: d}
        lans:
          seg:
            members: [{node: a, interface: eth2}, {node: b}]
        """)
    assert names_of(lab, "a") == ["eth1", "eth0", "eth3", "eth2"]
    assert names_of(lab, "b") == ["eth0", "eth1"]


def test_links_come_before_lans_in_default_naming() -> None:
    lab = resolved("""\
        name: t
        nodes: {a: {}, b: {}}
        lans:
          seg:
            members: [{node: a}, {node: b}]
        links:
          - a: {node: a}
            b: {node: b}
        """)
    assert iface(lab, "a", "eth0").segment == "links[0]"
    assert iface(lab, "a", "eth1").segment == "lans.seg"


def test_indexes_start_at_32_in_every_namespace() -> None:
    lab = resolved(ROUTER_LAB)
    assert FIRST_INDEX == 32
    assert [i.index for i in lab.node("r").interfaces] == [32, 33]
    assert [i.index for i in lab.node("h1").interfaces] == [32]
    assert [i.index for i in lab.node("h2").interfaces] == [32]


def test_peers_point_at_each_other() -> None:
    lab = resolved(ROUTER_LAB)
    h1 = iface(lab, "h1", "eth0")
    r0 = iface(lab, "r", "eth0")
    assert (h1.peer.netns, h1.peer.ifname, h1.peer.index) == ("nl-r.r", "eth0", 32)
    assert (r0.peer.netns, r0.peer.ifname, r0.peer.index) == ("nl-r.h1", "eth0", 32)
    assert h1.segment == r0.segment == "links[0]"


def test_lan_bridge_takes_index_32_and_ports_are_named_after_nodes() -> None:
    lab = resolved("""\
        name: t
        nodes: {h1: {}, h2: {}}
        lans:
          seg:
            members:
              - {node: h1, address: 10.0.0.1/24}
              - {node: h2, address: 10.0.0.2/24}
              - {node: h2, address: 10.0.0.3/24}
        """)
    (seg,) = lab.lans
    assert seg.bridge_index == 32
    assert [(p.name, p.index, p.node) for p in seg.ports] == [("h1", 33, "h1"), ("h2", 34, "h2"),
                                                              ("h2-1", 35, "h2")]
    member = iface(lab, "h2", "eth1")
    assert (member.index, member.peer.netns, member.peer.ifname, member.peer.index) == (33, "nl-t.seg", "h2-1", 35)


def test_mtu_of_an_end_overrides_the_link_or_lan_mtu() -> None:
    lab = resolved("""\
        name: t
        nodes: {a: {}, b: {}, c: {}}
        links:
          - mtu: 9000
            a: {node: a}
            b: {node: b, mtu: 1400}
        lans:
          seg:
            mtu: 1300
            members: [{node: a}, {node: c, mtu: 1280}]
        """)
    assert iface(lab, "a", "eth0").mtu == 9000
    assert iface(lab, "b", "eth0").mtu == 1400
    assert iface(lab, "a", "eth0").peer.mtu == 1400
    assert iface(lab, "a", "eth1").mtu == 1300
    assert iface(lab, "c", "eth0").mtu == 1280
    assert iface(lab, "c", "eth0").peer.mtu == 1300  # the bridge port keeps the LAN's MTU


def test_mtu_defaults_to_none_meaning_the_kernel_default() -> None:
    assert iface(resolved(ROUTER_LAB), "h1", "eth0").mtu is None


@pytest.mark.parametrize(("extra", "address", "expected"), [
    ("", "10.0.0.1/24", False),
    ("", "fd00::1/64", True),
    ("ipv6: true\n", "10.0.0.1/24", True),
    ("ipv6: false\n", "10.0.0.1/24", False),
])
def test_ipv6_is_on_only_when_used_or_asked_for(extra: str, address: str, expected: bool) -> None:
    lab = resolved(two_nodes(f"{{node: a, address: '{address}'}}", "{node: b}", head=extra))
    assert lab.ipv6 is expected


def test_ipv6_is_on_when_only_a_loopback_address_is_ipv6() -> None:
    assert resolved("name: t\nnodes:\n  a: {loopback: 'fd00::1'}\n").ipv6


def test_ipv6_is_on_when_only_a_route_is_ipv6() -> None:
    assert resolved(two_nodes("{node: a}", "{node: b}", a="{routes: [{to: 'fd00:9::/64', dev: eth0}]}")).ipv6


def test_loopback_addresses_default_to_host_prefixes() -> None:
    lab = resolved("name: t\nnodes:\n  a: {loopback: [10.255.0.1, 'fd00::1', 10.9.0.1/24]}\n")
    assert lab.node("a").loopback == ("10.255.0.1/32", "fd00::1/128", "10.9.0.1/24")


def test_interface_sysctls_expand_to_full_keys() -> None:
    lab = resolved(two_nodes("{node: a, interface: up0, sysctls: {rp_filter: 0, arp_ignore: 1, ipv6.accept_ra: 0}}",
                             "{node: b}"))
    assert iface(lab, "a", "up0").sysctls == (
        ("net.ipv4.conf.up0.rp_filter", "0"),
        ("net.ipv4.conf.up0.arp_ignore", "1"),
        ("net.ipv6.conf.up0.accept_ra", "0"),
    )


def test_interface_sysctls_use_the_default_interface_name() -> None:
    lab = resolved("""\
        name: t
        nodes: {a: {}, b: {}, c: {}}
        links:
          - a: {node: a}
            b: {node: b}
          - a: {node: a, sysctls: {proxy_arp: 1}}
            b: {node: c}
        """)
    assert iface(lab, "a", "eth1").sysctls == (("net.ipv4.conf.eth1.proxy_arp", "1"),)


def test_node_sysctl_values_become_strings() -> None:
    lab = resolved("name: t\nnodes:\n  a: {sysctls: {net.ipv4.ip_forward: 1, net.ipv4.tcp_congestion_control: reno}}\n")
    assert lab.node("a").sysctls == (("net.ipv4.ip_forward", "1"), ("net.ipv4.tcp_congestion_control", "reno"))


def test_routes_get_family_and_device_index() -> None:
    lab = resolved(two_nodes(
        "{node: a, address: [10.0.0.1/24, 'fd00::1/64']}", "{node: b, address: [10.0.0.2/24, 'fd00::2/64']}",
        a=block("routes", "{to: default, via: 10.0.0.2}", "{to: default, via: 'fd00::2'}",
                "{to: 10.9.0.0/16, dev: eth0, metric: 10}", "{to: 10.8.0.0/16, dev: lo}")))
    routes = lab.node("a").routes
    assert [(r.to, r.family, r.dev_index) for r in routes] == [
        ("default", 4, None), ("default", 6, None), ("10.9.0.0/16", 4, 32), ("10.8.0.0/16", 4, 1)]
    assert routes[2].metric == 10


def test_description_source_and_commands_are_carried() -> None:
    lab = resolved("""\
        name: t
        description: |
          first line
          second line
        nodes:
          a: {description: the host, commands: [echo one, echo two]}
        """, path="/labs/lab.yml")
    assert lab.description == "first line\nsecond line"
    assert lab.source == "/labs/lab.yml"
    assert lab.node("a").description == "the host"
    assert lab.node("a").commands == ("echo one", "echo two")
