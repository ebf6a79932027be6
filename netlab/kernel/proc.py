"""/proc/sys from inside a namespace, with plain system calls: what apply writes for sysctls and IPv6.

Why plain ``os.open``/``os.write``: Python's text-mode ``open()`` adds buffering, an fstat and an isatty ioctl,
≈ 0.1 ms per file, which at two IPv6 sysctls per namespace is 0.2 s of a thousand-node ``up``.

Why a lab without IPv6 writes nothing here (it once wrote ``net.ipv6.conf.{all,default}.disable_ipv6``): every
namespace registers its own /proc/sys/net entries, and the kernel's lookup of a path under it walks past every
other namespace's, so one open costs O(namespaces) and a lab's O(namespaces²): at 3000 namespaces about half
of ``up``'s CPU time went to that open. Such a lab keeps IPv6 on and silent instead, with one netlink
message per interface (:func:`netlab.kernel.rtnl.no_link_local`). A lab with IPv6 still writes two files per
namespace (:func:`ipv6_without_dad`): DAD is a per-namespace default that only /proc/sys sets (netlink sets an
interface's IPv6 token and address generation mode, nothing else).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = [
    "bridge_ipv6_off",
    "ipv6_set_by_sysctls",
    "ipv6_without_dad",
    "later_interfaces_ipv6_off",
    "silent_namespaces",
    "sysctl_path",
    "write_proc",
]

IPV6_OWN_KEYS = ("disable_ipv6", "addr_gen_mode")
"""The per-interface IPv6 sysctls that decide whether an interface gets a link-local address."""


def write_proc(path: str, value: str) -> None:
    """Write a /proc/sys file with plain system calls.

    Python's text-mode ``open()`` adds buffering, an fstat and an isatty ioctl: ≈ 0.1 ms more per
    file, which at two IPv6 sysctls per namespace is 0.2 s of a thousand-node ``up``.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def ipv6_set_by_sysctls(keys: Iterable[str]) -> frozenset[str]:
    """The interfaces of a namespace whose IPv6 the lab's own sysctls set, from the keys it writes there:
    ``net.ipv6.conf.<ifname|all>.disable_ipv6`` or ``.addr_gen_mode``; ``"all"`` in the answer stands for
    every interface (writing ``all`` sets every interface that exists, and they all do when sysctls are
    written). ``default`` is not counted: it concerns interfaces made later, and there are none.

    Why: in a lab without IPv6, apply keeps IPv6 silent by giving every interface it brings up address
    generation mode none (:func:`netlab.kernel.rtnl.no_link_local`); on an interface whose IPv6 the user
    configured, that would overrule them (``ipv6.disable_ipv6: 0`` asks for IPv6, link-local included;
    ``ipv6.addr_gen_mode: 3`` for random link-local addresses), so apply and ``netlab export`` both leave
    those interfaces to the kernel's default and the user's sysctls.
    """
    out: set[str] = set()
    for key in keys:
        head, _, leaf = key.rpartition(".")
        if leaf in IPV6_OWN_KEYS and head.startswith("net.ipv6.conf."):
            ifname = head[len("net.ipv6.conf."):]
            if ifname != "default":
                out.add(ifname)
    return frozenset(out)


def silent_namespaces(without_ipv6: Iterable[str], sysctls: Iterable[tuple[str, str]],
                      bridges: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Each namespace of a lab without IPv6 → its interfaces that do not get address generation mode none: those
    whose IPv6 the lab's sysctls set (:func:`ipv6_set_by_sysctls`, ``"all"`` for every one) and its bridges,
    whose IPv6 is off instead (:func:`bridge_ipv6_off`). ``sysctls`` and ``bridges`` are (namespace, key or
    name) pairs of the whole plan. One rule for apply and ``netlab export``, so the script builds what ``up``
    builds."""
    keys: dict[str, list[str]] = {}
    for netns, key in sysctls:
        keys.setdefault(netns, []).append(key)
    for netns, name in bridges:  # the key bridge_ipv6_off writes
        keys.setdefault(netns, []).append(f"net.ipv6.conf.{name}.disable_ipv6")
    return {netns: ipv6_set_by_sysctls(keys.get(netns, ())) for netns in without_ipv6}


def bridge_ipv6_off(name: str) -> None:
    """IPv6 off on bridge ``name`` of the current namespace (``net.ipv6.conf.<name>.disable_ipv6``), made and not up.

    Why a bridge gets the /proc write the other interfaces are spared: with multicast snooping on (the default,
    which a lab's IPv4 multicast relies on), a bridge joins the all-snoopers group ff02::6a as it comes up, and
    MLD reports that join even with no link-local address -- from ``::`` (measured on 6.18: four reports from
    each bridge, flooded to every port). Address generation mode none cannot stop that; disabling IPv6 on the
    bridge does, and a lab has one bridge per LAN, not one per namespace. A kernel without IPv6 has nothing to
    turn off.
    """
    try:
        write_proc(sysctl_path(f"net.ipv6.conf.{name}.disable_ipv6"), "1")
    except FileNotFoundError:
        pass


def later_interfaces_ipv6_off() -> None:
    """IPv6 off for every interface made in the current namespace from now on (``default.disable_ipv6``).

    Why, and only where a lab runs its own commands: an interface a command makes (``ip link add vxlan1 ...``
    in an exercise) never passes through apply's ``LinkUp``, so address generation mode none cannot reach it,
    and it would announce itself (DAD, router solicitations, a bridge's MLD) as no interface did while
    netlab turned IPv6 off everywhere. One /proc write in those namespaces keeps that promise; the others,
    nearly all of a large lab, are spared it. A kernel without IPv6 has nothing to turn off.
    """
    try:
        write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")
    except FileNotFoundError:
        pass


def ipv6_without_dad() -> None:
    """IPv6 on, without duplicate address detection, for every interface made in this namespace after.

    Why: each interface's link-local address goes through DAD when it comes up (≈ 1 s; longer in a slow
    VM), and while it is tentative the node does not answer neighbour solicitations. A lab's first IPv6
    packets then wait for the 1 s retransmit of the solicitation: measured in the TCG VM, the first ping
    across gre-tunnel took 1.00 s in 5 of 5 runs and missed a 1 s probe timeout in 3 of 5; with DAD off,
    4-10 ms in 5 of 5. Addresses in a lab are unique by construction (validate checks them), and the
    global ones are added with IFA_F_NODAD already.
    """
    for scope in ("all", "default"):
        write_proc(f"/proc/sys/net/ipv6/conf/{scope}/accept_dad", "0")


def sysctl_path(key: str) -> str:
    """``net.ipv4.conf.eth0.rp_filter`` → path; interface names may contain dots, so only split the
    fixed prefix (``net.ipv4.conf.<ifname>.<leaf>``)."""
    parts = key.split(".")
    if len(parts) > 5 and parts[0] == "net" and parts[2] in ("conf", "neigh"):
        ifname = ".".join(parts[3:-1])
        return "/proc/sys/" + "/".join([*parts[:3], ifname, parts[-1]])
    return "/proc/sys/" + key.replace(".", "/")
