"""validate refuses what the kernel would refuse at `up`: one test per case a tester found passing validate and
failing up (and the neighbours of each), plus the sysctl table and the names matched with fullmatch.

Every case is checked for its data path, its line and a hint that says what the kernel would do. No root needed:
nothing here touches the kernel (the table was generated from one; tests/integration re-checks it)."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest

from netlab.core import kernel_limits, netns_sysctls
from netlab.core.kernel_limits import Refusal, Sysctl, SysctlState, find_sysctl, value_problem
from netlab.errors import Diagnostic
from netlab.stages.validate import interface_name_problem
from tests.helpers import FILE, diagnostics, two_nodes_data, valid


def check(data: dict[str, Any]) -> list[Diagnostic]:
    """The diagnostics of a topology (none if valid); each must have a line."""
    found = diagnostics(data)
    for d in found:
        assert d.file == FILE and d.line, d.render()
    return found


def one(data: dict[str, Any], path: str, *fragments: str, hint: bool = True) -> Diagnostic:
    """The one diagnostic of ``data``: at ``path``, its message and hint holding ``fragments``."""
    found = check(data)
    assert len(found) == 1, "\n".join(d.render() for d in found) or "no problem found"
    d = found[0]
    assert d.path == path, d.render()
    for fragment in fragments:
        assert fragment in d.message + " " + (d.hint or ""), d.render()
    assert d.hint or not hint, f"no hint: {d.render()}"
    return d


def routes(*items: dict[str, Any], loopback: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"routes": list(items)}
    if loopback is not None:
        node["loopback"] = loopback
    return two_nodes_data(node)


def sysctls(values: dict[str, Any], **top: Any) -> dict[str, Any]:
    return two_nodes_data({"sysctls": values}, **top)


def test_the_base_lab_is_valid() -> None:
    valid(two_nodes_data())


# ------------------------------------------------------------------------------------------------ routes

def test_a_metric_beyond_32_bits_is_refused_with_the_kernels_limit() -> None:
    one(routes({"to": "10.9.0.0/24", "via": "10.0.0.2", "metric": 2 ** 32}), "nodes.a.routes[0].metric",
        "4294967296 is out of range", "32 bits")
    valid(routes({"to": "10.9.0.0/24", "via": "10.0.0.2", "metric": 2 ** 32 - 1}))


@pytest.mark.parametrize("src", ["foo", "10.0.0.300", "fe80::1%eth0"])
def test_src_that_is_not_an_address(src: str) -> None:
    one(routes({"to": "10.9.0.0/24", "via": "10.0.0.2", "src": src}), "nodes.a.routes[0].src", repr(src))


@pytest.mark.parametrize(("src", "fragment"), [
    ("10.9.9.9", "not an address of node 'a'"), ("10.0.0.2", "not an address of node 'a'"),
    ("2001:db8::1", "IPv6, the route is IPv4"), ("::1", "link-local or loopback"),
])
def test_src_the_kernel_refuses(src: str, fragment: str) -> None:
    to = "2001:db8:9::/64" if src == "::1" else "10.9.0.0/24"
    via = "2001:db8::2" if src == "::1" else "10.0.0.2"
    one(routes({"to": to, "via": via, "src": src}), "nodes.a.routes[0].src", fragment, "EINVAL")


def test_src_of_a_default_route_without_an_ipv6_via_is_ipv4() -> None:
    one(routes({"to": "default", "dev": "eth0", "src": "2001:db8::1"}), "nodes.a.routes[0].src",
        "a `default` route without an IPv6 `via` is IPv4")


@pytest.mark.parametrize("src", ["10.0.0.1", "127.0.0.1", "10.255.0.1", "2001:db8:ff::1"])
def test_src_that_the_node_has(src: str) -> None:
    to, via = ("2001:db8:9::/64", "2001:db8::2") if ":" in src else ("10.9.0.0/24", "10.0.0.2")
    valid(routes({"to": to, "via": via, "src": src}, loopback=["10.255.0.1", "2001:db8:ff::1"]))


def test_src_may_be_an_ipvs_vip_netlab_adds() -> None:
    data = routes({"to": "10.9.0.0/24", "via": "10.0.0.2", "src": "10.0.0.100"})
    data["ipvs"] = [{"director": "a", "vip": "10.0.0.100", "port": 80, "mode": "nat", "real_servers": [{"node": "b"}]}]
    valid(data)


@pytest.mark.parametrize(("first", "second"), [
    ({"to": "default", "via": "10.0.0.2"}, {"to": "0.0.0.0/0", "via": "10.0.0.2"}),
    ({"to": "default", "via": "2001:db8::2"}, {"to": "::/0", "via": "2001:db8::2"}),
    ({"to": "10.9.0.0/24", "via": "10.0.0.2"}, {"to": "10.9.0.0/24", "dev": "eth0"}),
    ({"to": "2001:db8:9::/64", "via": "2001:db8::2"}, {"to": "2001:db8:9::/64", "via": "2001:db8::2", "metric": 1024}),
    ({"to": "2001:db8:9::/64", "via": "2001:db8::2", "metric": 0}, {"to": "2001:db8:9::/64", "dev": "eth0"}),
])
def test_the_same_route_twice(first: dict[str, Any], second: dict[str, Any]) -> None:
    one(routes(first, second), "nodes.a.routes[1]", "the same route as nodes.a.routes[0]", "EEXIST")


def test_the_same_destination_with_other_metrics_is_fine() -> None:
    valid(routes({"to": "default", "via": "10.0.0.2"}, {"to": "0.0.0.0/0", "via": "10.0.0.2", "metric": 10},
                 {"to": "default", "via": "2001:db8::2"}))


@pytest.mark.parametrize("route", [
    {"to": "10.0.0.0/24", "dev": "eth0"}, {"to": "10.0.0.0/24", "via": "10.0.0.2", "metric": 0},
    {"to": "2001:db8::/64", "dev": "eth0", "metric": 256}, {"to": "2001:db8:ff::1/128", "dev": "lo", "metric": 256},
])
def test_a_route_the_kernel_added_for_an_address(route: dict[str, Any]) -> None:
    one(routes(route, loopback=["2001:db8:ff::1"]), "nodes.a.routes[0]", "the kernel already has the route",
        "EEXIST")


@pytest.mark.parametrize("route", [
    {"to": "10.0.0.0/24", "dev": "eth0", "metric": 1}, {"to": "2001:db8::/64", "dev": "eth0"},
    {"to": "10.255.0.0/24", "dev": "eth0"},  # lo's prefixes go to the local table, not main
])
def test_a_route_beside_the_kernels_own(route: dict[str, Any]) -> None:
    valid(routes(route, loopback="10.255.0.1/24"))


def test_fe80_64_with_the_kernels_metric() -> None:
    one(routes({"to": "fe80::/64", "dev": "eth0", "metric": 256}), "nodes.a.routes[0]", "link-local")


@pytest.mark.parametrize(("route", "path", "fragment"), [
    ({"to": "10.9.0.0/24", "via": "10.0.0.255"}, "nodes.a.routes[0].via", "broadcast address"),
    ({"to": "2001:db8:9::/64", "via": "2001:db8::1"}, "nodes.a.routes[0].via", "an address of node 'a' itself"),
    ({"to": "10.9.0.0/24", "via": "10.0.0.2", "dev": "lo"}, "nodes.a.routes[0].via", "is not on lo"),
    ({"to": "10.9.0.0/24", "via": "224.0.0.5"}, "nodes.a.routes[0].via", "multicast or broadcast"),
])
def test_gateways_the_kernel_refuses(route: dict[str, Any], path: str, fragment: str) -> None:
    data = routes(route)
    if route["via"] == "224.0.0.5":  # in a subnet of a, so that only the gateway's kind is wrong
        data["links"][0]["a"]["address"] = ["200.0.0.1/2"]
        data["links"][0]["b"]["address"] = ["200.0.0.2/2"]
    one(data, path, fragment, "EINVAL")


def test_a_link_local_gateway_needs_dev() -> None:
    data = routes({"to": "2001:db8:9::/64", "via": "fe80::2"})
    data["links"][0]["a"]["address"] = ["10.0.0.1/24", "fe80::1/64"]
    data["links"][0]["b"]["address"] = ["10.0.0.2/24", "fe80::2/64"]
    one(data, "nodes.a.routes[0].via", "needs `dev`")
    data["nodes"]["a"]["routes"][0]["dev"] = "eth0"
    valid(data)


def test_an_ipv6_gateway_the_kernel_would_reach_through_another_gateway() -> None:
    """Found by the property test: an earlier route to the connected prefix with a metric below 256 hides the
    connected route, and IPv6 then refuses every gateway in that prefix (EHOSTUNREACH); IPv4 does not."""
    hiding = {"to": "2001:db8::/64", "via": "2001:db8::2", "metric": 100}
    later = {"to": "2001:db8:9::/64", "via": "2001:db8::2"}
    one(routes(hiding, later), "nodes.a.routes[1].via", "not directly", "EHOSTUNREACH")
    valid(routes(later, hiding))  # in this order each gateway is looked up before the hiding route exists
    valid(routes({**hiding, "metric": 300}, later))
    valid(routes({"to": "10.0.0.0/24", "via": "10.0.0.2", "metric": 1}, {"to": "10.9.0.0/24", "via": "10.0.0.2"}))


def test_an_ipv6_gateway_in_a_prefix_on_lo() -> None:
    one(routes({"to": "2001:db8:9::/64", "via": "2001:db8:fe::2"}, loopback="2001:db8:fe::1/64"),
        "nodes.a.routes[0].via", "on lo", "EHOSTUNREACH")


def test_a_route_through_an_interface_without_ipv6() -> None:
    data = routes({"to": "2001:db8:9::/64", "dev": "eth0"})
    data["links"][0]["mtu"] = 1200
    for end in ("a", "b"):
        data["links"][0][end]["address"] = data["links"][0][end]["address"][:1]
    one(data, "nodes.a.routes[0].dev", "eth0 has no IPv6", "1280")


@pytest.mark.parametrize("to", ["2001:db8::%1/64", "10.0.0.0/24%x"])
def test_a_route_with_a_scope_id(to: str) -> None:
    found = check(routes({"to": to, "dev": "eth0"}))
    assert found and all(d.path == "nodes.a.routes[0].to" for d in found)


# ------------------------------------------------------------------------------------------------ addresses, MACs, MTUs

@pytest.mark.parametrize(("address", "fragment"), [
    ("::/128", "unspecified"), ("0.0.0.0/24", "unspecified"), ("0.0.0.0/32", "unspecified"),
    ("ff02::1/64", "multicast"), ("224.0.0.5/24", "multicast"), ("255.255.255.255/32", "broadcast"),
    ("::1/128", "loopback address"),
])
def test_addresses_the_kernel_refuses_or_ignores(address: str, fragment: str) -> None:
    data = two_nodes_data(ea={"address": address}, eb={"address": []})
    one(data, "links[0].a.address", fragment)


def test_a_scope_id_is_not_part_of_an_address() -> None:
    one(two_nodes_data(ea={"address": "fe80::1%eth0/64"}, eb={"address": []}), "links[0].a.address", "scope id")


@pytest.mark.parametrize(("loopback", "path", "fragment"), [
    (["127.0.0.1/8"], "nodes.a.loopback", "lo has 127.0.0.1/8 already"),
    (["::1"], "nodes.a.loopback", "lo's own address"),
    (["10.255.0.1", "10.255.0.1/32"], "nodes.a.loopback[1]", "on lo twice"),
    (["2001:db8:ff::1/64", "2001:db8:ff::1"], "nodes.a.loopback[1]", "on lo twice"),
])
def test_loopback_addresses_lo_already_has(loopback: list[str], path: str, fragment: str) -> None:
    one(two_nodes_data({"loopback": loopback if len(loopback) > 1 else loopback[0]}), path, fragment, "EEXIST")


def test_other_loopback_addresses_are_fine() -> None:
    valid(two_nodes_data({"loopback": ["127.0.0.1/32", "127.0.0.2", "10.255.0.1", "2001:db8:ff::1"]}))


@pytest.mark.parametrize(("mac", "fragment"), [
    ("00:00:00:00:00:00", "all-zero"), ("01:00:5e:00:00:01", "multicast"), ("ff:ff:ff:ff:ff:ff", "multicast"),
])
def test_macs_the_kernel_refuses(mac: str, fragment: str) -> None:
    one(two_nodes_data(ea={"mac": mac}), "links[0].a.mac", fragment)


@pytest.mark.parametrize(("where", "path"), [
    ({"link": {"mtu": 1279}}, "links[0].a.address[1]"), ({"ea": {"mtu": 1000}}, "links[0].a.address[1]"),
])
def test_ipv6_on_an_interface_below_1280(where: dict[str, Any], path: str) -> None:
    found = check(two_nodes_data(**where))
    assert path in [d.path for d in found]
    d = next(d for d in found if d.path == path)
    assert "below 1280" in d.message and "removes IPv6" in (d.hint or "")


def test_ipv6_on_a_lan_below_1280() -> None:
    data = {"name": "t", "nodes": {"a": {}, "b": {}}, "lans": {"l": {"mtu": 1200, "members": [
        {"node": "a", "address": "2001:db8::1/64"}, {"node": "b", "address": "2001:db8::2/64"}]}}}
    assert {d.path for d in check(data)} == {"lans.l.members[0].address", "lans.l.members[1].address"}


def test_ipv6_at_1280_and_ipv4_below_it_are_fine() -> None:
    valid(two_nodes_data(link={"mtu": 1280}))
    valid(two_nodes_data(link={"mtu": 68}, ea={"address": "10.0.0.1/24"}, eb={"address": "10.0.0.2/24"}))


def test_a_lan_of_1024_members_is_more_than_a_bridge_takes() -> None:
    def lan(n: int) -> dict[str, Any]:
        return {"name": "t", "nodes": {"a": {}, "b": {}}, "lans": {"big": {"members": [
            {"node": "a" if i % 2 else "b"} for i in range(n)]}}}

    one(lan(1024), "lans.big.members", "at most 1023 ports", "EXFULL")
    valid(lan(1023))


def test_a_subinterface_larger_than_its_parent() -> None:
    data = two_nodes_data({"subinterfaces": [{"kind": "macvlan", "parent": "eth0", "mtu": 9000}]})
    one(data, "nodes.a.subinterfaces[0].mtu", "larger than its parent", "EINVAL")


# ------------------------------------------------------------------------------------------------ names

@pytest.mark.parametrize("ifname", ["all", "default"])
def test_interface_names_the_kernel_reserves(ifname: str) -> None:
    d = one(two_nodes_data(ea={"interface": ifname}), "links[0].a.interface", "is reserved", hint=False)
    assert "the kernel refuses it for an interface (EINVAL)" in d.message


@pytest.mark.parametrize("ifname", ["gre0", "tunl0", "sit0"])
def test_fallback_device_names_are_not_link_interfaces(ifname: str) -> None:
    one(two_nodes_data(ea={"interface": ifname}), "links[0].a.interface", "fallback device")


@pytest.mark.parametrize("node", ["all", "default", "tunl0"])
def test_a_lan_port_cannot_get_a_reserved_name(node: str) -> None:
    data = {"name": "t", "nodes": {node: {}, "b": {}}, "lans": {"l": {"members": [{"node": node}, {"node": "b"}]}}}
    one(data, "lans.l.members[0].node", "cannot be on a LAN")


@pytest.mark.parametrize(("name", "problem"), [
    ("à", "0xa0"), ("e\u00a0", "white space"), ("e\n", "white space"), ("e\x00", "NUL"), ("a..b", None), ("á", None),
])
def test_interface_name_bytes_as_the_kernel_reads_them(name: str, problem: str | None) -> None:
    found = interface_name_problem(name)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(("data", "path"), [
    ({"name": "t", "nodes": {"a\x00b": {}}}, "nodes.a\\x00b"),
    ({"name": "t\x00", "nodes": {"a": {}}}, "name"),
    ({"name": "t", "nodes": {"a": {"commands": ["echo \x00 hi"]}}}, "nodes.a.commands[0]"),
    (two_nodes_data(ea={"interface": "e\x00"}), "links[0].a.interface"),
    (two_nodes_data({"sysctls": {"net.ipv4.ip_forward": "1\x00"}}), "nodes.a.sysctls.net.ipv4.ip_forward"),
])
def test_a_nul_byte_is_one_problem_wherever_it_is(data: dict[str, Any], path: str) -> None:
    d = one(data, path, "NUL byte")
    assert "cut off" in (d.hint or "")


@pytest.mark.parametrize(("data", "path"), [
    ({"name": "g06\n", "nodes": {"a": {}}}, "name"),
    ({"name": "t", "nodes": {"a\n": {}}}, "nodes.a\\n"),
    ({"name": "t", "nodes": {"a": {}}, "lans": {"l\n": {"members": [{"node": "a"}]}}}, "lans.l\\n"),
    ({"name": "t", "nodes": {"a": {"services": [{"kind": "tcp-echo", "name": "s\n"}]}}}, "nodes.a.services[0].name"),
    ({"name": "t", "nodes": {"a": {}}, "probes": [{"name": "p\n", "kind": "ping", "from": "a", "to": "10.0.0.1"}]},
     "probes[0].name"),
    ({"name": "t", "nodes": {"a": {}}, "probes": [
        {"name": "p", "kind": "sysctl", "node": "a", "key": "net.ipv4.ip_forward\n", "value": 1}]}, "probes[0].key"),
    ({"name": "t", "nodes": {"a": {"sysctls": {"net.ipv4.ip_forward\n": 1}}}},
     "nodes.a.sysctls.net.ipv4.ip_forward\\n"),
    ({"name": "t", "nodes": {"a": {"iptables": {"filter": {"chains": ["C\n"]}}}}}, "nodes.a.iptables.filter.chains[0]"),
    ({"name": "t", "nodes": {"a": {"iptables": {"filter": {"rules": [
        {"rule": "-A INPUT -j ACCEPT", "name": "r\n"}]}}}}}, "nodes.a.iptables.filter.rules[0].name"),
])
def test_names_with_a_trailing_newline_are_refused(data: dict[str, Any], path: str) -> None:
    assert path in [d.path for d in check(data)]


def test_a_capture_match_key_with_a_trailing_newline() -> None:
    data = two_nodes_data(probes=[{"name": "p", "kind": "ping", "from": "a", "to": "10.0.0.2"},
                        {"name": "c", "kind": "capture", "during": "p", "at": "a:eth0", "match": {"IP.src\n": 1},
                         "packets": 1}])
    assert "probes[1].match.IP.src\\n" in [d.path for d in check(data)]


@pytest.mark.parametrize("rule", ["-A INPUT --table=nat -j ACCEPT", "-A INPUT -tnat -j ACCEPT",
                                  "-A INPUT --tab nat -j ACCEPT"])
def test_an_iptables_rule_naming_its_table(rule: str) -> None:
    one({"name": "t", "nodes": {"a": {"iptables": {"filter": {"rules": [rule]}}}}},
        "nodes.a.iptables.filter.rules[0]", "cannot name its table", "`nat:`")


@pytest.mark.parametrize(("rule", "ok"), [
    ("-A INPUT -p icmype -j ACCEPT", False), ("-A INPUT -p echo-request -j ACCEPT", False),
    ("-A INPUT -p ! 256 -j ACCEPT", False), ("-A INPUT -p TCP -j ACCEPT", True), ("-A INPUT -p 47 -j ACCEPT", True),
    ("-A INPUT ! -p icmp -j ACCEPT", True), ("-A INPUT -p ipv6-icmp -j ACCEPT", True),
])
def test_an_iptables_protocol_iptables_does_not_know(rule: str, ok: bool) -> None:
    """Found by fuzzing the catalog labs (bench/fuzz_load.py's mutations, then up): iptables-restore refused the
    rule after the lab was built."""
    data = {"name": "t", "nodes": {"a": {"iptables": {"filter": {"rules": [rule]}}}}}
    if ok:
        valid(data)
    else:
        one(data, "nodes.a.iptables.filter.rules[0]", "knows no protocol", "unknown protocol")


def test_a_comment_that_looks_like_a_table_option_is_fine() -> None:
    valid({"name": "t", "nodes": {"a": {"iptables": {"filter": {"rules": [
        '-A INPUT -m comment --comment "-tnat" -j ACCEPT']}}}}})


# ------------------------------------------------------------------------------------------------ sysctls

@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("net.ipv4.tcp_ecn", 3, "out of range"),
    ("net.ipv4.tcp_syn_retries", 0, "1-127"),
    ("net.ipv4.ip_default_ttl", 256, "1-255"),
    ("net.core.somaxconn", -1, "out of range"),
    ("net.ipv4.tcp_rmem", "4096 0 6291456", "number 2 of"),
    ("net.ipv4.tcp_rmem", "1 2 3 4", "holds 3 numbers"),
    ("net.ipv4.conf.all.rp_filter", 3, "RFC 3704"),
    ("net.ipv4.conf.all.arp_ignore", 9, "4-7 reserved"),
    ("net.ipv4.conf.eth0.arp_announce", 3, "best local address"),
    ("net.ipv4.ip_forward", "on", "not a number"),
    ("net.ipv4.ip_forward", "010", "octal"),
    ("net.ipv4.ip_local_reserved_ports", "8080, 9000", "separated by commas"),
    ("net.ipv4.tcp_fastopen_key", "zz", "hex groups"),
    ("net.ipv6.conf.eth0.stable_secret", "foo", "IPv6 address"),
    ("net.ipv6.conf.eth0.mtu", 1501, "1280-1500"),
    ("net.ipv4.vs.sync_ports", 3, "power of two"),
    ("net.ipv4.vs.drop_entry", 4, "0 (off)"),
])
def test_sysctl_values_the_kernel_refuses(key: str, value: Any, fragment: str) -> None:
    one(sysctls({key: value}), f"nodes.a.sysctls.{key}", fragment)


@pytest.mark.parametrize(("key", "fragment"), [
    ("net.core.rmem_max", "read-only in a network namespace"),
    ("net.core.netdev_max_backlog", "only in the machine's own network namespace"),
    ("net.ipv4.tcp_mem", "only in the machine's own network namespace"),
    ("net.ipv4.tcp_ecnn", "did you mean 'net.ipv4.tcp_ecn'?"),
    ("net.ipv4.conf....ip_forward", "empty part"),
    ("net.ipv4.conf..ip_forward", "empty part"),
    ("net.ipv4.neigh.default.gc_stale_time", "only in the machine's own network namespace"),
    ("net.ipv4.conf.eth9.rp_filter", "'eth9' is not an interface of this node"),
    ("net.ipv4.conf.eth0.rp_filtr", "did you mean 'rp_filter'?"),
    ("net.ipv4.vs.conntrak", "did you mean 'net.ipv4.vs.conntrack'?"),
])
def test_sysctl_keys_a_network_namespace_does_not_have(key: str, fragment: str) -> None:
    one(sysctls({key: 1}), f"nodes.a.sysctls.{key}", fragment)


@pytest.mark.parametrize(("key", "value"), [
    ("net.ipv4.ip_forward", 1), ("net.ipv4.ip_forward", "1"), ("net.ipv4.tcp_ecn", 2),
    ("net.ipv4.conf.all.rp_filter", 2), ("net.ipv4.conf.default.arp_ignore", 8), ("net.ipv4.conf.lo.arp_announce", 0),
    ("net.ipv4.conf.eth0.forwarding", 1), ("net.ipv6.conf.eth0.forwarding", 1),
    ("net.ipv4.neigh.eth0.gc_stale_time", 30),
    ("net.ipv6.neigh.lo.retrans_time_ms", 500), ("net.ipv4.tcp_rmem", "4096 131072 6291456"),
    ("net.ipv4.tcp_rmem", 8192), ("net.ipv4.ip_local_port_range", "32768 60999"), ("net.ipv6.conf.eth0.mtu", 1400),
    ("net.ipv4.vs.conntrack", 1), ("net.ipv4.vs.expire_nodest_conn", 1), ("net.ipv4.vs.sync_ports", 4),
    ("net.ipv4.ip_local_reserved_ports", "8080,9000-9010"), ("net.ipv4.tcp_congestion_control", "reno"),
    ("net.sctp.addip_enable", 1),  # a module this table has not seen: accepted (see kernel_limits)
    ("net.ipv4.route.flush", 1),
])
def test_sysctls_a_node_can_have(key: str, value: Any) -> None:
    valid(sysctls({key: value}))


def test_a_bool_value_is_written_as_a_number() -> None:
    valid(sysctls({"net.ipv4.ip_forward": True}))


def test_per_interface_keys_match_any_interface_of_the_node_by_leaf() -> None:
    data = two_nodes_data({"sysctls": {"net.ipv4.conf.wan.rp_filter": 1, "net.ipv4.conf.a..b.rp_filter": 1,
                             "net.ipv6.conf.wan.accept_ra": 0}},
                ea={"interface": "wan"})
    data["links"].append({"a": {"node": "a", "interface": "a..b", "address": "10.1.0.1/24"},
                          "b": {"node": "b", "address": "10.1.0.2/24"}})
    valid(data)


def test_an_interfaces_own_sysctls_are_checked_like_the_nodes() -> None:
    one(two_nodes_data(ea={"sysctls": {"arp_ignore": 9}}), "links[0].a.sysctls.arp_ignore", "4-7 reserved")
    one(two_nodes_data(ea={"sysctls": {"ipv6.accept_raa": 0}}), "links[0].a.sysctls.ipv6.accept_raa", "did you mean")
    one(two_nodes_data(ea={"sysctls": {"ipv6.forwarding": 1}, "address": "10.0.0.1/24"}, link={"mtu": 1200},
             eb={"address": []}),
        "links[0].a.sysctls.ipv6.forwarding", "no IPv6")
    valid(two_nodes_data(ea={"sysctls": {"rp_filter": 2, "ipv6.accept_ra": 0}}))


@pytest.mark.parametrize(("values", "path", "fragment"), [
    ({"net.ipv4.ip_local_port_range": "1000 2000"}, "net.ipv4.ip_local_port_range", "below ip_unprivileged_port_start"),
    ({"net.ipv4.ip_local_port_range": "3000 2000"}, "net.ipv4.ip_local_port_range", "ends before it starts"),
    ({"net.ipv4.ip_unprivileged_port_start": 40000}, "net.ipv4.ip_unprivileged_port_start", "above the start"),
    ({"net.ipv4.ip_local_port_range": "1000 2000", "net.ipv4.ip_unprivileged_port_start": 500},
     "net.ipv4.ip_local_port_range", "written in the order given"),
    ({"net.ipv4.ipfrag_low_thresh": 5000000}, "net.ipv4.ipfrag_low_thresh", "above net.ipv4.ipfrag_high_thresh"),
    ({"net.ipv4.vs.sync_threshold": "50 3"}, "net.ipv4.vs.sync_threshold", "first must be below"),
    ({"net.ipv6.conf.eth0.addr_gen_mode": 2}, "net.ipv6.conf.eth0.addr_gen_mode", "stable secret"),
])
def test_keys_that_limit_each_other(values: dict[str, Any], path: str, fragment: str) -> None:
    one(sysctls(values), f"nodes.a.sysctls.{path}", fragment)


@pytest.mark.parametrize("values", [
    {"net.ipv4.ip_unprivileged_port_start": 500, "net.ipv4.ip_local_port_range": "1000 2000"},
    {"net.ipv4.ipfrag_high_thresh": 6000000, "net.ipv4.ipfrag_low_thresh": 5000000},
    {"net.ipv4.vs.sync_threshold": "3 0"},
    {"net.ipv6.conf.eth0.stable_secret": "2001:db8::1", "net.ipv6.conf.eth0.addr_gen_mode": 2},
])
def test_keys_that_limit_each_other_in_the_right_order(values: dict[str, Any]) -> None:
    valid(sysctls(values))


def test_disable_ipv6_where_the_lab_puts_ipv6() -> None:
    found = check(sysctls({"net.ipv6.conf.all.disable_ipv6": 1}))
    assert {d.path for d in found} == {"links[0].a.address[1]"}
    assert "EACCES" in (found[0].hint or "")
    found = check(two_nodes_data(ea={"sysctls": {"ipv6.disable_ipv6": 1}}))
    assert {d.path for d in found} == {"links[0].a.address[1]"}
    valid(sysctls({"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.eth0.disable_ipv6": 0}))
    valid(sysctls({"net.ipv6.conf.default.disable_ipv6": 1}))  # for interfaces made later: none


def test_the_sysctl_table_is_pure_data() -> None:
    """Validation never touches the kernel: the generated module imports nothing and holds only literals."""
    tree = ast.parse(inspect.getsource(netns_sysctls))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom | ast.Call)]
    assert netns_sysctls.KEYS["net.ipv4.tcp_ecn"][1] == (((0, 2),),)
    assert "default" not in netns_sysctls.LEAVES["net.ipv4.neigh"]["gc_stale_time"][4]
    assert all(".." not in key and "" not in key.split(".") for key in netns_sysctls.KEYS)


def test_find_sysctl_sorts_keys_into_known_refused_and_unknown() -> None:
    assert isinstance(find_sysctl("net.ipv4.ip_forward", {}), Sysctl)
    assert isinstance(find_sysctl("net.ipv4.vs.conntrack", {}), Sysctl)
    assert isinstance(find_sysctl("net.ipv4.nope", {}), Refusal)
    assert find_sysctl("net.sctp.addip_enable", {}) is None
    mtu = find_sysctl("net.ipv6.conf.eth0.mtu", {"eth0": 9000})
    assert isinstance(mtu, Sysctl) and value_problem(mtu, 9000) is None and value_problem(mtu, 9001) is not None
    assert isinstance(find_sysctl("net.ipv6.conf.eth0.forwarding", {"eth0": 1000}), Refusal)
    state = SysctlState()
    assert state.write("net.ipv4.ip_local_port_range", 5000) is None  # the high end stays 60999
    assert state.current("net.ipv4.ip_local_port_range") == [5000, 60999]
    assert kernel_limits.numbers(" 1\t2\n") == [1, 2]


# ------------------------------------------------------------------------------------------ IPVS: what netlab adds

def test_a_nat_real_servers_route_to_0_0_0_0_0_collides_with_the_derived_default() -> None:
    service = {"director": "a", "vip": "10.0.0.100", "port": 80, "mode": "nat", "real_servers": [{"node": "b"}]}
    data = two_nodes_data(None, {"routes": [{"to": "0.0.0.0/0", "via": "10.0.0.1"}]}, ipvs=[service])
    one(data, "nodes.b.routes[0]", "netlab adds this route")
    data["nodes"]["b"]["routes"][0]["to"] = "default"  # replaces netlab's, as documented
    valid(data)


def test_an_ipv6_vip_already_on_the_directors_interface() -> None:
    data = two_nodes_data(ipvs=[{"director": "a", "vip": "2001:db8::1", "port": 80, "mode": "dr",
                       "real_servers": [{"node": "b"}]}])
    one(data, "links[0].a.address[1]", "is the IPVS VIP", "EEXIST")


# ------------------------------------------------------------------------------------------------ all at once

def test_every_problem_of_the_list_at_once_each_with_its_line() -> None:
    data = two_nodes_data({"loopback": ["127.0.0.1/8"], "routes": [
        {"to": "10.9.0.0/24", "via": "10.0.0.2", "metric": 2 ** 32}, {"to": "10.8.0.0/24", "via": "10.0.0.2",
                                                                       "src": "foo"},
        {"to": "default", "via": "10.0.0.2"}, {"to": "0.0.0.0/0", "via": "10.0.0.2"}, {"to": "10.0.0.0/24",
                                                                                         "dev": "eth0"}],
        "sysctls": {"net.ipv4.tcp_ecn": 7, "net.core.rmem_max": 1, "net.ipv4.conf....ip_forward": 1}},
        {"commands": ["echo \x00"]}, ea={"mac": "00:00:00:00:00:00", "address": ["10.0.0.1/24", "::/128"]},
        eb={"interface": "all"})
    paths = {d.path for d in check(data)}
    assert paths >= {"nodes.a.loopback", "nodes.a.routes[0].metric", "nodes.a.routes[1].src", "nodes.a.routes[3]",
                     "nodes.a.routes[4]", "nodes.a.sysctls.net.ipv4.tcp_ecn", "nodes.a.sysctls.net.core.rmem_max",
                     "nodes.a.sysctls.net.ipv4.conf....ip_forward", "nodes.b.commands[0]", "links[0].a.mac",
                     "links[0].a.address[1]", "links[0].b.interface"}
