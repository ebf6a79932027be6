"""A lab without IPv6 keeps it silent with one netlink message per interface, not a /proc/sys write per namespace.

What is pinned here, without root: the bytes of :func:`netlab.kernel.rtnl.no_link_local` (decoded by pyroute2,
as tests/unit/test_netlink_decode.py pins the other shapes); which interfaces apply sends it for (not bridges:
their IPv6 is off), and that it goes right before the interface's ``up`` in the same batch; that an
EAFNOSUPPORT answer to it (an interface with no IPv6 at all) is not a failure while any other is; and that
``netlab export`` writes the same thing as ``ip`` and ``sysctl`` lines. That the kernel then sends no IPv6
frame is proved as root in tests/integration/test_ipv6_silent.py.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from netlab.errors import ApplyError
from netlab.kernel import rtnl
from netlab.kernel.netlink import NLM_F_ACK, NLM_F_REQUEST, NLMSG_HDR, RTM_NEWLINK, NetlinkResult
from netlab.model.ipv6 import ipv6_set_by_sysctls, silent_namespaces
from netlab.model.plan import Action, CreateBridge, CreateNetns, CreateVeth, LinkUp, Plan, RunCommand, SetSysctl
from netlab.stages.apply import Applier
from netlab.views.export import render

RTM_SETLINK = 19  # <linux/rtnetlink.h>, written out so a wrong constant in rtnl cannot agree with itself


def _decoded(message: rtnl.Message) -> Any:
    body, msg_type, flags = message
    data = NLMSG_HDR.pack(16 + len(body), msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body
    msg = ifinfmsg(data)
    msg.decode()
    return msg


@pytest.mark.parametrize(("index", "name", "attrs"), [
    (7, "eth0", []),
    (0, "tunl0", [("IFLA_IFNAME", "tunl0")]),  # a device the kernel made: found by name
])
def test_no_link_local_is_a_setlink_of_address_generation_mode_none(index: int, name: str, attrs: list[Any]) -> None:
    message = rtnl.no_link_local(index, name)
    assert message[1:] == (RTM_SETLINK, 0)  # not a create: no NLM_F_CREATE/EXCL
    msg = _decoded(message)
    assert (msg["family"], msg["index"], msg["flags"], msg["change"]) == (0, index, 0, 0)
    assert [a[0] for a in msg["attrs"]] == [*(a[0] for a in attrs), "IFLA_AF_SPEC"]
    assert [msg.get_attr(k) for k, _ in attrs] == [v for _, v in attrs]
    inet6 = msg.get_attr("IFLA_AF_SPEC").get_attr("AF_INET6")
    assert [a[0] for a in inet6["attrs"]] == ["IFLA_INET6_ADDR_GEN_MODE"]
    assert inet6.get_attr("IFLA_INET6_ADDR_GEN_MODE") == 1  # IN6_ADDR_GEN_MODE_NONE
    assert len(msg.data) == msg["header"]["length"] == 16 + 16 + (12 if index == 0 else 0) + 16
    again = ifinfmsg()
    again.setvalue(msg.dump())
    again.encode()
    assert again.data == msg.data  # pyroute2 packs the very same bytes


@pytest.mark.parametrize(("keys", "expected"), [
    ([], set()),
    (["net.ipv4.ip_forward", "net.ipv6.conf.eth0.forwarding"], set()),
    (["net.ipv6.conf.eth0.disable_ipv6"], {"eth0"}),
    (["net.ipv6.conf.eth0.100.addr_gen_mode"], {"eth0.100"}),  # an interface name with a dot
    (["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.addr_gen_mode"], {"all"}),  # default: later ones
])
def test_the_interfaces_whose_ipv6_the_lab_s_sysctls_set(keys: list[str], expected: set[str]) -> None:
    assert ipv6_set_by_sysctls(keys) == expected


def test_silent_namespaces_leave_bridges_and_the_lab_s_own_ipv6_alone() -> None:
    found = silent_namespaces(["a", "s"], [("a", "net.ipv6.conf.eth1.disable_ipv6"), ("b", "net.ipv6.conf.all.x")],
                              [("s", "br0"), ("b", "br1")])
    assert found == {"a": {"eth1"}, "s": {"br0"}}  # b uses IPv6: not silenced at all


def _plan(ipv6: bool, *extra: Action) -> Plan:
    """Two nodes on a LAN: a bridge, two veths, every interface brought up, and ``extra`` actions."""
    actions: list[Action] = [CreateNetns("a", "a", ipv6), CreateNetns("b", "b", ipv6), CreateNetns("s", "LAN s", ipv6),
                             CreateBridge("s", "br0", 2, None),
                             CreateVeth("a", "eth0", 2, None, None, "s", "a", 3, None, None),
                             CreateVeth("b", "eth0", 2, 1000, None, "s", "b", 4, 1000, None),
                             *extra,
                             LinkUp("s", "br0", 2, "tag"), LinkUp("s", "a", 3, "tag", 2), LinkUp("s", "b", 4, "tag", 2),
                             LinkUp("a", "eth0", 2, "tag"), LinkUp("b", "eth0", 2, "tag"),
                             LinkUp("b", "tunl0", 0, "", None, "a kernel's device")]
    return Plan("t", ("a", "b", "s"), tuple(actions))


def _ups(plan: Plan) -> dict[tuple[str, str], list[int]]:
    """(namespace, interface) → the message types apply sends for its LinkUp, in order."""
    applier = Applier(plan, "run")
    try:
        return {(a.netns, a.name): [m[1] for m in applier._messages(a)] for a in plan.actions if isinstance(a, LinkUp)}
    finally:
        applier.close()


def test_without_ipv6_every_interface_but_a_bridge_gets_the_mode_right_before_its_up() -> None:
    ups = _ups(_plan(False))
    assert ups.pop(("s", "br0")) == [RTM_NEWLINK]  # IPv6 off on it instead (netlab.kernel.proc.bridge_ipv6_off)
    assert len(ups) == 5
    assert all(types == [RTM_SETLINK, RTM_NEWLINK] for types in ups.values()), ups


def test_with_ipv6_nothing_is_added() -> None:
    assert set(map(tuple, _ups(_plan(True)).values())) == {(RTM_NEWLINK,)}


def test_an_interface_whose_ipv6_a_sysctl_sets_keeps_the_kernel_s_default() -> None:
    ups = _ups(_plan(False, SetSysctl("a", "net.ipv6.conf.eth0.disable_ipv6", "0"),
                     SetSysctl("b", "net.ipv6.conf.all.addr_gen_mode", "3")))
    assert ups[("a", "eth0")] == [RTM_NEWLINK]
    assert ups[("b", "eth0")] == ups[("b", "tunl0")] == [RTM_NEWLINK]  # `all`: every interface of b
    assert ups[("s", "a")] == [RTM_SETLINK, RTM_NEWLINK]  # other namespaces as before


class _Socket:
    """Answers each batch with the given errors (0: success), in order; records what it was sent."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.sent: list[rtnl.Message] = []

    def request_many(self, requests: list[rtnl.Message]) -> list[NetlinkResult]:
        self.sent += requests
        return [NetlinkResult(self.errors.pop(0), "") for _ in requests]

    def close(self) -> None:
        pass


class _Handle:
    def __init__(self, sock: _Socket) -> None:
        self.sock = sock

    def close(self) -> None:
        pass


def _apply_up(errors: list[int]) -> _Socket:
    plan = _plan(False)
    applier = Applier(plan, "run")
    sock = _Socket(errors)
    applier.handles["a"] = _Handle(sock)  # type: ignore[assignment]
    try:
        applier._netlink([a for a in plan.actions if isinstance(a, LinkUp) and a.netns == "a"])
    finally:
        applier.handles.clear()
        applier.close()
    return sock


def test_the_mode_and_the_up_go_in_one_batch_and_eafnosupport_to_the_mode_is_no_failure() -> None:
    sock = _apply_up([-errno.EAFNOSUPPORT, 0])  # eth0 has no IPv6 at all (an MTU below 1280): silent already
    assert [(m[1], m[0][4:8]) for m in sock.sent] == [(RTM_SETLINK, b"\x02\0\0\0"), (RTM_NEWLINK, b"\x02\0\0\0")]


@pytest.mark.parametrize("errors", [[-errno.ENODEV, 0], [0, -errno.EAFNOSUPPORT]])
def test_any_other_refusal_fails_the_step(errors: list[int]) -> None:
    with pytest.raises(ApplyError, match="up a:eth0"):
        _apply_up(errors)


def test_the_export_sets_the_same_mode_before_each_up_and_writes_no_disable_ipv6() -> None:
    script = render(_plan(False, SetSysctl("a", "net.ipv6.conf.eth0.disable_ipv6", "0")))
    assert not [line for line in script.splitlines() if "all.disable_ipv6" in line or "default.disable_ipv6" in line]
    lines = script.splitlines()
    for ns, name in [("s", "a"), ("s", "b"), ("b", "eth0"), ("b", "tunl0")]:
        at = next(i for i, line in enumerate(lines) if line.startswith(f"ip -n {ns} link set {name} ")
                  and line.endswith(" up"))
        # an MTU of 1000 in the plan: the kernel refuses the mode there (no IPv6), which must not stop the script
        assert lines[at - 1] == f"ip -n {ns} link set {name} addrgenmode none 2>/dev/null || true"
    assert "ip -n a link set eth0 addrgenmode" not in script  # its IPv6 is the user's sysctl's
    assert "ip -n s link set br0 addrgenmode" not in script  # a bridge: IPv6 off, right after it is made
    made = lines.index("ip -n s link add br0 type bridge")
    assert lines[made + 1] == "ip netns exec s sysctl -qew net.ipv6.conf.br0.disable_ipv6=1"
    assert "addrgenmode" not in render(_plan(True)) and "disable_ipv6" not in render(_plan(True))


def test_without_a_small_mtu_the_export_s_mode_line_may_not_fail() -> None:
    plan = _plan(False)
    plan = Plan(plan.lab, plan.namespaces, tuple(a for a in plan.actions if not (isinstance(a, CreateVeth)
                                                                                 and a.mtu)))
    assert "ip -n a link set eth0 addrgenmode none\n" in render(plan)


def test_where_the_lab_runs_commands_interfaces_made_later_get_ipv6_off() -> None:
    """A command's own interfaces never pass through LinkUp: ``default.disable_ipv6`` there, and only there."""
    lines = render(_plan(False, RunCommand("a", "a", "ip link add vx0 type vxlan id 1 dstport 4789"))).splitlines()
    at = lines.index("ip netns add a")
    assert lines[at + 1] == "ip netns exec a sysctl -qew net.ipv6.conf.default.disable_ipv6=1"
    assert sum("default.disable_ipv6" in line for line in lines) == 1
