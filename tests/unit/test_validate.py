"""Stage 2, validate: one test per rule, then "every problem of a file at once, in file order"."""

from __future__ import annotations

import pytest

from netlab import catalog
from netlab.errors import Diagnostic, InvalidInput
from netlab.stages.load import load_file, load_text
from netlab.stages.validate import validate
from tests.helpers import block, problems, two_nodes, valid


def one_problem(text: str) -> Diagnostic:
    found = problems(text)
    assert len(found) == 1, "\n".join(d.render() for d in found)
    return found[0]


def where(diag: Diagnostic) -> tuple[int | None, str]:
    return diag.line, diag.path


# ------------------------------------------------------------------------------ valid input

@pytest.mark.parametrize("name", catalog.names())
def test_catalog_labs_are_valid(name: str) -> None:
    topo = validate(load_file(catalog.catalog_dir() / f"{name}.yml"))
    assert topo.name == name


def test_a_valid_lab_returns_the_typed_topology() -> None:
    topo = valid(two_nodes())
    assert set(topo.nodes) == {"a", "b"}
    assert topo.links[0].a.address == ("10.0.0.1/24",)


def test_a_node_with_nothing_under_it_is_a_node_with_defaults() -> None:
    topo = valid("name: t\nnodes:\n  a:\n  b:\n")
    assert topo.nodes["a"].routes == ()
    assert topo.nodes["b"].sysctls == {}


def test_address_can_be_one_string_or_a_list() -> None:
    topo = valid(two_nodes("{node: a, address: [10.0.0.1/24, 'fd00::1/64']}",
                           "{node: b, address: 10.0.0.2/24}"))
    assert topo.links[0].a.address == ("10.0.0.1/24", "fd00::1/64")
    assert topo.links[0].b.address == ("10.0.0.2/24",)


def test_point_to_point_prefixes_have_no_network_or_broadcast_address() -> None:
    valid(two_nodes("{node: a, address: 10.0.0.0/31}", "{node: b, address: 10.0.0.1/31}"))
    valid(two_nodes("{node: a, address: 10.0.0.0/32}", "{node: b}"))


def test_interface_name_of_exactly_15_bytes_is_fine() -> None:
    valid(two_nodes("{node: a, interface: abcdefghijklmno, address: 10.0.0.1/24}",
                    "{node: b, address: 10.0.0.2/24}"))


def test_locally_administered_unicast_mac_is_fine() -> None:
    valid(two_nodes("{node: a, mac: '02:00:00:00:00:01'}", "{node: b, mac: 'AA:bb:cc:dd:ee:ff'}"))


# ------------------------------------------------------------------------------ shape: keys and types

@pytest.mark.parametrize(("text", "path", "hint"), [
    ("name: t\nnodes: {a: {}}\nlink: []\n", "link", "did you mean 'links'?"),
    ("name: t\nnodes: {a: {}}\nlans: {l: {members: [], mtux: 1}}\n", "lans.l.mtux", "did you mean 'mtu'?"),
    ("name: t\nnodes:\n  a: {route: []}\n", "nodes.a.route", "did you mean 'routes'?"),
    ("name: t\nnodes:\n  a: {routes: [{to: default, vai: 10.0.0.1}]}\n", "nodes.a.routes[0].vai",
     "did you mean 'via'?"),
    (two_nodes("{node: a, adress: 10.0.0.1/24}", "{node: b}"), "links[0].a.adress", "did you mean 'address'?"),
    (two_nodes("{node: a}", "{node: b}").replace("  - a:", "  - mut: 9000\n    a:"), "links[0].mut",
     "did you mean 'mtu'?"),
])
def test_unknown_key_is_reported_with_did_you_mean(text: str, path: str, hint: str) -> None:
    diag = one_problem(text)
    assert diag.path == path
    assert diag.message == f"unknown key {path.rsplit('.', 1)[-1]!r}"
    assert diag.hint == hint


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    diag = one_problem("name: t\nnodes:\n  a: {colour: red}\n")
    assert where(diag) == (3, "nodes.a.colour")
    assert diag.hint is not None
    assert diag.hint.startswith("allowed keys here: description, loopback, sysctls, routes, commands, services")


@pytest.mark.parametrize(("text", "path", "message"), [
    ("name: 5\nnodes: {a: {}}\n", "name", "must be a string, not int 5"),
    ("name: t\nnodes: [a, b]\n", "nodes", "must be a mapping, not a list"),
    ("name: t\nipv6: maybe\nnodes: {a: {}}\n", "ipv6", "must be true or false, not str 'maybe'"),
    ("name: t\nnodes:\n  a: [eth0]\n", "nodes.a", "must be a mapping, not a list"),
    ("name: t\nnodes:\n  a: {commands: echo hi}\n", "nodes.a.commands", "must be a list, not str 'echo hi'"),
    ("name: t\nnodes:\n  a: {routes: {to: default}}\n", "nodes.a.routes", "must be a list, not a mapping"),
    ("name: t\nnodes:\n  a: {loopback: 5}\n", "nodes.a.loopback", "must be a list, not int 5"),
    (two_nodes("{node: a, mtu: big}", "{node: b}"), "links[0].a.mtu", "must be an integer, not str 'big'"),
    (two_nodes("{node: a, interface: 7}", "{node: b}"), "links[0].a.interface", "must be a string, not int 7"),
])
def test_wrong_type_says_what_was_expected_and_what_was_found(text: str, path: str, message: str) -> None:
    diag = one_problem(text)
    assert (diag.path, diag.message) == (path, message)


@pytest.mark.parametrize(("text", "path"), [
    ("nodes: {a: {}}\n", "name"),
    ("name: t\n", "nodes"),
    ("name: t\nnodes: {a: {}}\nlinks:\n  - a: {node: a}\n", "links[0].b"),
    ("name: t\nnodes: {a: {}}\nlinks:\n  - a: {address: 10.0.0.1/24}\n    b: {node: a}\n", "links[0].a.node"),
    ("name: t\nnodes: {a: {}}\nlans:\n  l: {mtu: 1400}\n", "lans.l.members"),
    ("name: t\nnodes:\n  a: {routes: [{via: 10.0.0.1}]}\n", "nodes.a.routes[0].to"),
])
def test_missing_required_key_is_reported(text: str, path: str) -> None:
    diag = problems(text)[0]
    assert diag.path == path
    assert diag.message == f"required key {path.rsplit('.', 1)[-1].split('[')[0]!r} is missing"


@pytest.mark.parametrize("mtu", [20, 67, 65536])
def test_mtu_out_of_range(mtu: int) -> None:
    diag = one_problem(two_nodes("{node: a}", f"{{node: b, mtu: {mtu}}}"))
    assert diag.path == "links[0].b.mtu"
    assert diag.message.startswith(f"{mtu} is out of range")


def test_negative_route_metric_is_out_of_range() -> None:
    diag = one_problem("name: t\nnodes:\n  a: {routes: [{to: 10.1.0.0/16, dev: lo, metric: -1}]}\n")
    assert (diag.path, diag.message) == (
        "nodes.a.routes[0].metric", "-1 is out of range: input should be greater than or equal to 0")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "---\n"])
def test_a_file_that_is_not_a_mapping(text: str) -> None:
    diag = one_problem(text)
    assert diag.message == "a topology file is a mapping with at least `name:` and `nodes:`"


def test_duplicate_keys_are_reported_by_validate_with_the_other_problems() -> None:
    found = problems("name: t\nnodes:\n  a: {}\n  a: {}\n  b: {colour: red}\n")
    assert [(d.line, d.path, d.message) for d in found] == [
        (4, "nodes.a", "duplicate key 'a'"),
        (5, "nodes.b.colour", "unknown key 'colour'"),
    ]


# ------------------------------------------------------------------------------ names

@pytest.mark.parametrize("name", ["Lab", "my_lab", "-lab", "lab.1", "a" * 25, "lab 1"])
def test_bad_lab_name(name: str) -> None:
    diag = one_problem(f"name: '{name}'\nnodes: {{a: {{}}}}\n")
    assert where(diag) == (1, "name")
    assert diag.message == f"lab name {name!r} cannot be used"
    assert diag.hint is not None and "1-24 characters" in diag.hint


@pytest.mark.parametrize("name", ["lab", "l", "0lab", "my-lab-2", "a" * 24])
def test_good_lab_name(name: str) -> None:
    assert valid(f"name: {name}\nnodes: {{a: {{}}}}\n").name == name


@pytest.mark.parametrize("name", ["n" * 16, "-a", "_a", "a.b", "a/b", "a b", "röuter"])
def test_bad_node_name(name: str) -> None:
    diag = one_problem(f"name: t\nnodes:\n  x: {{}}\n  '{name}': {{}}\n")
    assert where(diag) == (4, f"nodes.{name}")
    assert diag.message == f"node name {name!r} cannot be used"


@pytest.mark.parametrize("name", ["n" * 15, "A1", "r1_b-2", "9"])
def test_good_node_name(name: str) -> None:
    assert name in valid(f"name: t\nnodes:\n  '{name}': {{}}\n").nodes


def test_bad_lan_name() -> None:
    diag = one_problem("name: t\nnodes: {a: {}}\nlans:\n  a.lan: {members: [{node: a}]}\n")
    assert (diag.path, diag.message) == ("lans.a.lan", "LAN name 'a.lan' cannot be used")


def test_lan_named_like_a_node() -> None:
    diag = one_problem("name: t\nnodes: {a: {}, b: {}}\nlans:\n  b: {members: [{node: a}]}\n")
    assert where(diag) == (4, "lans.b")
    assert diag.message == "LAN 'b' has the name of a node"
    assert diag.hint is not None and "namespace of its own" in diag.hint


# ------------------------------------------------------------------------------ references, interfaces

def test_unknown_node_in_a_link_with_did_you_mean() -> None:
    text = "name: t\nnodes: {router: {}, client: {}}\nlinks:\n  - a: {node: client}\n    b: {node: routr}\n"
    diag = one_problem(text)
    assert where(diag) == (5, "links[0].b.node")
    assert (diag.message, diag.hint) == ("unknown node 'routr'", "did you mean 'router'?")


def test_unknown_node_in_a_lan_lists_the_nodes_when_nothing_is_close() -> None:
    diag = one_problem("name: t\nnodes: {h1: {}, h2: {}}\nlans:\n  l:\n    members:\n      - {node: zzz}\n")
    assert where(diag) == (6, "lans.l.members[0].node")
    assert diag.hint == "nodes are: h1, h2"


def test_link_with_both_ends_on_one_node() -> None:
    diag = one_problem(two_nodes("{node: a}", "{node: a}"))
    assert where(diag) == (6, "links[0]")
    assert diag.message == "both ends are on node 'a'"


@pytest.mark.parametrize(("ifname", "fragment"), [
    ("averyveryverylongname", "is 21 bytes; Linux interface names are at most 15"),
    ("ethéééééééé", "is 19 bytes"),
    ("a/b", "contains '/', ':' or white space"),
    ("eth0:1", "contains '/', ':' or white space"),
    ("'eth 0'", "contains '/', ':' or white space"),
    ("'..'", "is not a valid interface name"),
    ("''", "is empty"),
])
def test_interface_names_the_kernel_would_refuse(ifname: str, fragment: str) -> None:
    diag = one_problem(two_nodes(f"{{node: a, interface: {ifname}}}", "{node: b}"))
    assert diag.path == "links[0].a.interface"
    assert diag.message.startswith("interface name ")
    assert fragment in diag.message


def test_lo_is_not_a_link_interface() -> None:
    diag = one_problem(two_nodes("{node: a, interface: lo}", "{node: b}"))
    assert (diag.path, diag.message) == ("links[0].a.interface", "'lo' is the loopback interface")
    assert diag.hint == "use the node's `loopback:` key for addresses on lo"


def test_duplicate_interface_on_a_node() -> None:
    text = """\
        name: t
        nodes: {a: {}, b: {}, c: {}}
        links:
          - a: {node: a, interface: up}
            b: {node: b}
          - a: {node: a, interface: up}
            b: {node: c}
        """
    diag = one_problem(text)
    assert where(diag) == (6, "links[1].a.interface")
    assert diag.message == "node 'a' already has an interface 'up'"
    assert diag.hint == "also at links[0].a"


def test_default_interface_names_do_not_collide_with_explicit_ones() -> None:
    text = """\
        name: t
        nodes: {a: {}, b: {}, c: {}}
        links:
          - a: {node: a}
            b: {node: b}
          - a: {node: a, interface: eth0}
            b: {node: c}
        """
    assert len(valid(text).links) == 2


@pytest.mark.parametrize("mac", ["zz:00:00:00:00:01", "02:00:00:00:01", "0200.0000.0001", "02-00-00-00-00-01"])
def test_bad_mac(mac: str) -> None:
    diag = one_problem(two_nodes(f"{{node: a, mac: '{mac}'}}", "{node: b}"))
    assert (diag.path, diag.message) == ("links[0].a.mac", f"{mac!r} is not a MAC address")


@pytest.mark.parametrize("mac", ["01:00:5e:00:00:01", "33:33:00:00:00:01", "ff:ff:ff:ff:ff:ff"])
def test_multicast_mac(mac: str) -> None:
    diag = one_problem(two_nodes(f"{{node: a, mac: '{mac}'}}", "{node: b}"))
    assert (diag.path, diag.message) == ("links[0].a.mac", f"{mac} is a multicast MAC address")


# ------------------------------------------------------------------------------ addresses

def test_address_without_prefix_length() -> None:
    diag = one_problem(two_nodes("{node: a, address: 10.0.0.1}", "{node: b, address: 10.0.0.2/24}"))
    assert where(diag) == (6, "links[0].a.address")
    assert diag.message == "address '10.0.0.1' has no prefix length"
    assert diag.hint == "write it as 10.0.0.1/24 (or the right length)"


@pytest.mark.parametrize("address", ["10.0.0.300/24", "10.0.0.1/33", "banana/24", "fd00::g/64"])
def test_not_an_address(address: str) -> None:
    diag = one_problem(two_nodes(f"{{node: a, address: '{address}'}}", "{node: b}"))
    assert diag.message == f"{address!r} is not an IP address with prefix"


@pytest.mark.parametrize(("address", "which", "net"), [
    ("10.0.0.0/24", "network", "10.0.0.0/24"),
    ("10.0.0.255/24", "broadcast", "10.0.0.0/24"),
    ("10.0.0.4/30", "network", "10.0.0.4/30"),
    ("fd00::/64", "network", "fd00::/64"),
])
def test_network_and_broadcast_addresses_are_not_host_addresses(address: str, which: str, net: str) -> None:
    diag = one_problem(two_nodes(f"{{node: a, address: '{address}'}}", "{node: b}"))
    assert diag.message == f"{address} is the {which} address of {net}"


def test_duplicate_address_names_the_first_use() -> None:
    text = """\
        name: t
        nodes: {a: {}, b: {}, c: {}}
        links:
          - a: {node: a, address: 10.0.0.1/24}
            b: {node: b, address: 10.0.0.2/24}
          - a: {node: a, address: 10.0.0.5/24}
            b:
              node: c
              address: [10.0.0.6/24, 10.0.0.1/24]
        """
    diag = one_problem(text)
    assert where(diag) == (9, "links[1].b.address[1]")
    assert diag.message == "address 10.0.0.1 is used twice"
    assert diag.hint == "also at links[0].a.address (line 4)"


def test_ends_of_a_link_must_share_a_subnet() -> None:
    diag = one_problem(two_nodes("{node: a, address: 10.0.1.1/24}", "{node: b, address: 10.0.2.1/24}"))
    assert where(diag) == (7, "links[0].b.address")
    assert diag.message == "10.0.2.1/24 is not in the subnet 10.0.1.0/24 of links[0].a.address"


def test_ends_of_a_link_must_share_the_prefix_length() -> None:
    diag = one_problem(two_nodes("{node: a, address: 10.0.1.1/24}", "{node: b, address: 10.0.1.2/25}"))
    assert diag.hint == "all ends on links[0] must share a subnet (same prefix length too)"


def test_members_of_a_lan_must_share_a_subnet() -> None:
    text = """\
        name: t
        nodes: {a: {}, b: {}, c: {}}
        lans:
          seg:
            members:
              - {node: a, address: 10.0.0.1/24}
              - {node: b, address: 10.0.0.2/24}
              - {node: c, address: 10.0.9.3/24}
        """
    diag = one_problem(text)
    assert where(diag) == (8, "lans.seg.members[2].address")
    assert diag.message == "10.0.9.3/24 is not in the subnet 10.0.0.0/24 of lans.seg.members[0].address"


def test_ipv4_and_ipv6_subnets_are_compared_per_family() -> None:
    valid(two_nodes("{node: a, address: [10.0.0.1/24, 'fd00::1/64']}",
                    "{node: b, address: ['fd00::2/64', 10.0.0.2/24]}"))


def test_ipv6_address_in_a_lab_with_ipv6_false() -> None:
    diag = one_problem(two_nodes("{node: a, address: 'fd00::1/64'}", "{node: b}", head="ipv6: false\n"))
    assert where(diag) == (7, "links[0].a.address")
    assert diag.message == "IPv6 address in a lab with `ipv6: false`"


def test_ipv6_address_with_ipv6_true_is_fine() -> None:
    assert valid(two_nodes("{node: a, address: 'fd00::1/64'}", "{node: b}", head="ipv6: true\n")).ipv6


# ------------------------------------------------------------------------------ sysctls

@pytest.mark.parametrize("key", ["kernel.panic", "vm.swappiness", "ip_forward", "fs.file-max"])
def test_node_sysctl_must_be_a_net_key(key: str) -> None:
    diag = one_problem(f"name: t\nnodes:\n  a:\n    sysctls:\n      {key}: 1\n")
    assert where(diag) == (5, f"nodes.a.sysctls.{key}")
    assert diag.message == f"sysctl {key!r} is not a network-namespace sysctl"


def test_net_sysctls_are_fine() -> None:
    topo = valid("name: t\nnodes:\n  a:\n    sysctls: {net.ipv4.ip_forward: 1, net.ipv4.tcp_congestion_control: bbr}\n")
    assert topo.nodes["a"].sysctls == {"net.ipv4.ip_forward": 1, "net.ipv4.tcp_congestion_control": "bbr"}


@pytest.mark.parametrize("key", ["net.ipv4.conf.eth0.rp_filter", "'rp filter'"])
def test_interface_sysctl_keys_are_relative_to_the_interface(key: str) -> None:
    diag = one_problem(two_nodes(f"{{node: a, sysctls: {{{key}: 0}}}}", "{node: b}"))
    assert diag.path == f"links[0].a.sysctls.{key.strip(chr(39))}"
    assert diag.message.startswith("per-interface sysctl ")


# ------------------------------------------------------------------------------ routes

def test_routes_through_a_connected_gateway_are_fine() -> None:
    topo = valid(two_nodes(a=block("routes", "{to: default, via: 10.0.0.2}", "{to: 10.9.0.0/16, dev: eth0, metric: 5}",
                                   "{to: 10.8.0.0/16, dev: lo}")))
    assert len(topo.nodes["a"].routes) == 3


def test_gateway_reachable_through_a_lan_is_fine() -> None:
    valid("name: t\nnodes:\n  a: {routes: [{to: default, via: 10.0.0.2}]}\n  b: {}\n"
          "lans:\n  seg:\n    members:\n      - {node: a, address: 10.0.0.1/24}\n"
          "      - {node: b, address: 10.0.0.2/24}\n")


def test_route_gateway_unreachable() -> None:
    diag = one_problem(two_nodes(a=block("routes", "{to: default, via: 192.168.1.1}")))
    assert where(diag) == (5, "nodes.a.routes[0].via")
    assert diag.message == "gateway 192.168.1.1 is not in any subnet of node 'a'"


def test_route_gateway_on_a_loopback_host_address_is_unreachable() -> None:
    text = two_nodes(a="\n    loopback: 10.255.0.1" + block("routes", "{to: 10.9.0.0/16, via: 10.255.0.1}"))
    assert one_problem(text).message == "gateway 10.255.0.1 is not in any subnet of node 'a'"


def test_route_dev_unknown() -> None:
    diag = one_problem(two_nodes(a=block("routes", "{to: 10.9.0.0/16, dev: eth7}")))
    assert where(diag) == (5, "nodes.a.routes[0].dev")
    assert (diag.message, diag.hint) == ("node 'a' has no interface 'eth7'", "its interfaces: eth0")


def test_route_with_host_bits() -> None:
    diag = one_problem(two_nodes(a=block("routes", "{to: 10.9.0.1/16, via: 10.0.0.2}")))
    assert where(diag) == (5, "nodes.a.routes[0].to")
    assert (diag.message, diag.hint) == ("'10.9.0.1/16' has host bits set", "did you mean 10.9.0.0/16?")


def test_route_to_that_is_not_a_prefix() -> None:
    diag = one_problem(two_nodes(a=block("routes", "{to: everywhere, via: 10.0.0.2}")))
    assert (diag.path, diag.message) == ("nodes.a.routes[0].to", "'everywhere' is not a prefix")


def test_route_needs_via_or_dev() -> None:
    diag = one_problem(two_nodes(a=block("routes", "{to: 10.9.0.0/16}")))
    assert (diag.path, diag.message) == ("nodes.a.routes[0]", "a route needs `via` (a gateway) or `dev` (an interface)")


def test_route_via_that_is_not_an_address() -> None:
    diag = one_problem(two_nodes(a=block("routes", "{to: default, via: router}")))
    assert (diag.path, diag.message) == ("nodes.a.routes[0].via", "'router' is not an IP address")


def test_route_gateway_and_destination_of_different_families() -> None:
    text = two_nodes(a=block("routes", "{to: 'fd00:9::/64', via: 10.0.0.2}"))
    diag = one_problem(text)
    assert diag.message == "gateway 10.0.0.2 and destination fd00:9::/64 are different IP versions"


# ------------------------------------------------------------------------------ all at once

MANY = """\
name: Bad_Lab
nodes:
  client:
    sysctls:
      kernel.panic: 1
    routes:
      - {to: 10.0.9.1/24, via: 10.0.1.1}
      - {to: default, via: 192.168.5.1}
  router:
    colour: blue
links:
  - a: {node: client, interface: eth0, address: 10.0.1.10/24, mac: "01:00:00:00:00:01"}
    b: {node: routr, address: 10.0.1.1/24}
  - a: {node: client, interface: eth0, address: 10.0.2.10}
    b: {node: router, interface: a/b, address: 10.0.3.1/24}
lans:
  router:
    members:
      - {node: client, address: 10.0.5.0/24}
      - {node: router, address: 10.0.6.1/24}
"""


def test_every_problem_of_a_file_is_reported_at_once_sorted_by_line() -> None:
    found = problems(MANY)
    assert [(d.line, d.path) for d in found] == [
        (1, "name"),
        (5, "nodes.client.sysctls.kernel.panic"),
        (7, "nodes.client.routes[0].to"),
        (8, "nodes.client.routes[1].via"),
        (10, "nodes.router.colour"),
        (12, "links[0].a.mac"),
        (13, "links[0].b.node"),
        (14, "links[1].a.address"),
        (14, "links[1].a.interface"),
        (15, "links[1].b.interface"),
        (17, "lans.router"),
        (19, "lans.router.members[0].address"),
        (20, "lans.router.members[1].address"),
    ]
    assert all(d.file == "lab.yml" for d in found)
    assert found == sorted(found, key=lambda d: (d.line or 0, d.path))


def test_a_shape_error_in_one_node_does_not_hide_problems_elsewhere() -> None:
    text = """\
        name: t
        nodes:
          a: {colour: red}
          b: {}
        links:
          - a: {node: a, address: 10.0.0.1/24}
            b: {node: c, address: 10.0.0.2}
        """
    assert [(d.line, d.path) for d in problems(text)] == [
        (3, "nodes.a.colour"), (7, "links[0].b.address"), (7, "links[0].b.node")]


def test_a_bad_link_mtu_does_not_hide_the_ends_problems() -> None:
    text = two_nodes("{node: a, address: 10.0.0.1/24}", "{node: zz, address: 10.0.0.1/24}").replace(
        "    b:", "    mtu: 1\n    b:")
    assert [d.path for d in problems(text)] == ["links[0].mtu", "links[0].b.address", "links[0].b.node"]


def test_the_invalid_input_message_renders_every_diagnostic() -> None:
    with pytest.raises(InvalidInput) as info:
        validate(load_text(MANY, "labs/many.yml"))
    message = str(info.value)
    assert message.startswith("labs/many.yml:1: name: lab name 'Bad_Lab' cannot be used\n    hint: ")
    assert message.count("labs/many.yml:") == 13


# ------------------------------------------------------------------------------ known bugs

def test_ipv6_loopback_address_in_a_lab_with_ipv6_false() -> None:
    diag = one_problem("name: t\nipv6: false\nnodes:\n  a: {loopback: 'fd00::1'}\n")
    assert diag.path == "nodes.a.loopback"


def test_ipv6_route_in_a_lab_with_ipv6_false() -> None:
    text = two_nodes(a=block("routes", "{to: 'fd00:9::/64', dev: eth0}"), head="ipv6: false\n")
    assert problems(text)[0].path.startswith("nodes.a.routes[0]")


def test_ipv6_false_is_checked_even_when_another_key_is_wrong() -> None:
    text = two_nodes("{node: a, address: 'fd00::1/64'}", "{node: b}", head="ipv6: false\ncolour: red\n")
    assert [d.path for d in problems(text)] == ["colour", "links[0].a.address"]


def test_a_shape_error_in_one_end_does_not_hide_the_other_end() -> None:
    text = two_nodes("{node: a, mtu: 1}", "{node: routr}").replace("  a: {}\n", "  a: {}\n  router: {}\n")
    assert [d.path for d in problems(text)] == ["links[0].a.mtu", "links[0].b.node"]


def test_a_typo_in_one_route_does_not_hide_the_other_routes_problems() -> None:
    text = two_nodes(a=block("routes", "{to: default, via: 10.0.0.2, metirc: 5}", "{to: 10.9.0.1/16, via: 10.0.0.2}"))
    assert [d.path for d in problems(text)] == ["nodes.a.routes[0].metirc", "nodes.a.routes[1].to"]


# ------------------------------------------------------------------------------ requires

def test_known_features_and_their_aliases_are_accepted() -> None:
    assert valid("name: t\nrequires: [bridge, ip_gre, ipvs, 8021q, tool:tcpdump]\nnodes: {a: {}}\n").requires == (
        "bridge", "ip_gre", "ipvs", "8021q", "tool:tcpdump")


def test_unknown_required_feature_with_did_you_mean() -> None:
    diag = one_problem("name: t\nrequires: [bridge, gree]\nnodes: {a: {}}\n")
    assert where(diag) == (2, "requires[1]")
    assert (diag.message, diag.hint) == ("unknown feature 'gree'", "did you mean 'gre'?")
