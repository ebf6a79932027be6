"""netlab's hand-packed rtnetlink messages sent to this kernel, and read back with ``ip -j -d``.

Why, next to tests/unit/test_netlink_decode.py (which pins the bytes against pyroute2's decoder): that
a message decodes as meant does not prove the kernel takes it so. Here the encoders of
netlab.kernel.rtnl and netlab.features.tunnels.kernel talk to the kernel directly, without a plan or
apply in between, and iproute2 -- a third implementation -- says what the kernel made: a veth born
across namespaces with both indexes, MTUs and MACs, a bridge and its port, aliases, a link found by name,
addresses with their scope, broadcast and flags, routes with gateway, device, metric and source, a vxlan
and a macvlan with their modes. The scratch namespaces are not netlab's (no netlab tag on ``lo``), so
nothing that cleans netlab's up can take them from under the test.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from netlab.features.tunnels.kernel import encode as encode_tunnel
from netlab.kernel import rtnl
from netlab.kernel.netlink import RtnlSocket
from netlab.kernel.netns import inside, netns_path
from netlab.model.plan import CreateSubInterface, CreateTunnel

pytestmark = pytest.mark.root

MAC1, MAC2, MAC3 = "02:00:00:00:0a:01", "02:00:00:00:0b:02", "02:00:00:00:0b:03"
TAG = "rtnl-readback scratch"
"""``lo``'s alias here: deliberately not a netlab tag (``netlab clean`` must leave these alone)."""


def ip_json(netns: str, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "-n", netns, "-j", "-d", *args], capture_output=True, text=True, check=True).stdout
    result: list[dict[str, Any]] = json.loads(out)
    return result


def send(netns: str, messages: list[rtnl.Message]) -> None:
    """Send a batch as apply does (one socket opened inside the namespace); every message must be accepted."""
    with inside(netns) as present:
        assert present
        sock = RtnlSocket()
    try:
        results = sock.request_many(list(messages))
    finally:
        sock.close()
    assert [r.describe() for r in results if not r.ok] == []


@pytest.fixture
def scratch() -> Iterator[tuple[str, str]]:
    """Two empty namespaces of this test's own, removed at the end whatever happened."""
    names = (f"rtnl{os.getpid()}a", f"rtnl{os.getpid()}b")
    made = []
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.kernel("veth", "bridge", "vxlan", "macvlan")
def test_messages_sent_to_the_kernel_read_back_as_meant_with_ip_json(scratch: tuple[str, str]) -> None:
    a, b = scratch
    fd_b = os.open(netns_path(b), os.O_RDONLY | os.O_CLOEXEC)
    try:
        vxlan = CreateTunnel(a, "vxlan1", 41, "vxlan", "10.9.0.2", "10.9.0.1", None, 4242, 8472, 64, 1400)
        # br1 has no port: an MTU given at creation yields to the ports' when one joins (the kernel does
        # not count it as set by the user), so it is read back on a bridge without ports
        send(a, [rtnl.tag_loopback(TAG), rtnl.new_bridge("br0", 40, None), rtnl.new_bridge("br1", 42, 1450),
                 rtnl.new_veth("v0", 33, 1400, MAC1, "eth0", fd_b, 34, 1400, MAC2),
                 rtnl.new_veth("v1", 35, None, None, "eth1", fd_b, 36, None, None),
                 encode_tunnel(vxlan, lambda netns: -1),
                 rtnl.link_up(40, "br0", "the bridge", None), rtnl.link_up(35, "v1", "", 40),
                 rtnl.link_up(33, "v0", "", None)])
    finally:
        os.close(fd_b)
    macvlan = CreateSubInterface(b, "eth0", 34, "macvlan", "private", b, "mv0", 37, MAC3, 1300)
    send(b, [rtnl.tag_loopback(TAG), rtnl.link_up(34, "eth0", "", None), rtnl.link_up(0, "eth1", "", None),
             encode_tunnel(macvlan, lambda netns: -1), rtnl.link_up(37, "mv0", "", None),
             rtnl.new_address(34, "10.9.0.1/24"), rtnl.new_address(34, "10.9.5.1/31"),
             rtnl.new_address(34, "fd00:9::1/64"), rtnl.new_address(1, "127.0.0.2/8")])
    send(b, [rtnl.new_route("default", "10.9.0.254", None, None, None, 4),
             rtnl.new_route("10.8.1.1/16", None, 34, 100, "10.9.0.1", 4),
             rtnl.new_route("fd01::/64", "fd00:9::fe", 34, None, None, 6)])

    links_a = {link["ifname"]: link for link in ip_json(a, "link", "show")}
    links_b = {link["ifname"]: link for link in ip_json(b, "link", "show")}
    assert links_a["lo"]["ifalias"] == TAG and "UP" in links_a["lo"]["flags"]
    br0, br1, v0, v1, vx = (links_a[name] for name in ("br0", "br1", "v0", "v1", "vxlan1"))
    assert (br0["ifindex"], br0["linkinfo"]["info_kind"], br0["ifalias"]) == (40, "bridge", "the bridge")
    assert (br1["ifindex"], br1["mtu"], br1["linkinfo"]["info_kind"]) == (42, 1450, "bridge")
    assert (v0["ifindex"], v0["mtu"], v0["address"], v0["linkinfo"]["info_kind"]) == (33, 1400, MAC1, "veth")
    assert (v1["ifindex"], v1["master"], v1["mtu"]) == (35, "br0", 1500)
    assert "UP" in v0["flags"] and "UP" in br0["flags"]
    data = vx["linkinfo"]["info_data"]
    assert (vx["ifindex"], vx["mtu"], vx["linkinfo"]["info_kind"]) == (41, 1400, "vxlan")
    assert (data["id"], data["remote"], data["local"], data["port"], data["ttl"]) == (4242, "10.9.0.1", "10.9.0.2",
                                                                                       8472, 64)
    eth0, eth1, mv0 = links_b["eth0"], links_b["eth1"], links_b["mv0"]
    assert (eth0["ifindex"], eth0["mtu"], eth0["address"], eth0["link_index"]) == (34, 1400, MAC2, 33)
    assert (eth1["ifindex"], eth1["mtu"]) == (36, 1500) and "UP" in eth1["flags"]  # found by name (index 0)
    assert (mv0["ifindex"], mv0["mtu"], mv0["address"], mv0["link"]) == (37, 1300, MAC3, "eth0")
    assert (mv0["linkinfo"]["info_kind"], mv0["linkinfo"]["info_data"]["mode"]) == ("macvlan", "private")

    addrs = {(a_["local"], a_["prefixlen"]): (a_["family"], a_["scope"], a_.get("broadcast"), a_.get("nodad", False),
                                              link["ifname"])
             for link in ip_json(b, "addr", "show") for a_ in link["addr_info"]}
    assert addrs[("10.9.0.1", 24)] == ("inet", "global", "10.9.0.255", False, "eth0")
    assert addrs[("10.9.5.1", 31)] == ("inet", "global", None, False, "eth0")
    assert addrs[("fd00:9::1", 64)] == ("inet6", "global", None, True, "eth0")
    assert addrs[("127.0.0.2", 8)] == ("inet", "host", "127.255.255.255", False, "lo")

    routes = {r["dst"]: r for r in ip_json(b, "-4", "route", "show") + ip_json(b, "-6", "route", "show")}
    default, prefix, v6 = routes["default"], routes["10.8.0.0/16"], routes["fd01::/64"]
    assert (default["gateway"], default["dev"], default["protocol"], default.get("scope", "global")) == (
        "10.9.0.254", "eth0", "static", "global")
    assert (prefix["dev"], prefix["protocol"], prefix["scope"], prefix["metric"], prefix["prefsrc"]) == (
        "eth0", "static", "link", 100, "10.9.0.1")
    assert (v6["gateway"], v6["dev"], v6["protocol"]) == ("fd00:9::fe", "eth0", "static")


@pytest.mark.kernel("veth", "bridge", "vxlan")
def test_the_link_and_address_dumps_decode_as_ip_json_shows_them(scratch: tuple[str, str]) -> None:
    """netlab.kernel.linkdump (what ``status`` reads) against iproute2's view of the same namespace."""
    from netlab.kernel import linkdump
    from netlab.status import read_interfaces

    a, _b = scratch
    for cmd in (["link", "add", "br0", "type", "bridge"], ["link", "add", "v0", "mtu", "1400", "type", "veth", "peer",
                                                             "name", "v1"],
                ["link", "set", "v0", "address", MAC1, "alias", "a veth", "master", "br0", "up"],
                ["link", "set", "v1", "up"], ["link", "set", "lo", "up"],
                ["link", "add", "vxlan1", "type", "vxlan", "id", "4242", "local", "10.9.0.2", "remote", "10.9.0.1",
                 "dstport", "8472"],
                ["addr", "add", "10.1.0.1/24", "dev", "v1"], ["addr", "add", "fd00:1::1/64", "dev", "v1", "nodad"],
                ["addr", "add", "10.2.0.1", "peer", "10.2.0.2/32", "dev", "v1"]):
        subprocess.run(["ip", "-n", a, *cmd], check=True)
    with inside(a) as present:
        assert present
        sock = RtnlSocket()
    try:
        links = {link.name: link for link in linkdump.links(sock)}
        addresses = sorted((x.index, x.family, x.address, x.prefixlen) for x in linkdump.addresses(sock))
    finally:
        sock.close()
    shown = ip_json(a, "link", "show")
    assert sorted(links) == sorted(x["ifname"] for x in shown)
    for x in shown:
        link = links[x["ifname"]]
        assert (link.index, link.mtu, link.state, link.mac, link.alias, link.kind) == (
            x["ifindex"], x["mtu"], x["operstate"], x.get("address", ""), x.get("ifalias", ""),
            x.get("linkinfo", {}).get("info_kind")), x["ifname"]
    want = sorted((x["ifindex"], {"inet": 2, "inet6": 10}[i["family"]], i["local"], i["prefixlen"])
                  for x in ip_json(a, "addr", "show") for i in x["addr_info"])
    assert addresses == want
    status = {i.name: i for i in read_interfaces(a) or ()}
    assert status["vxlan1"].detail == "vxlan 4242 10.9.0.2 → 10.9.0.1:8472"
    assert status["v1"].addresses == ("10.1.0.1/24", "10.2.0.1/32", "fd00:1::1/64")  # no fe80::, the peer's own end
