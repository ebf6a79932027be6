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

__all__ = [
    "bridge_ipv6_off",
    "ipv6_without_dad",
    "later_interfaces_ipv6_off",
    "sysctl_path",
    "write_proc",
]

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
