"""The sysctl checks of validate: keys a lab's namespaces have, written with values their kernel takes.

Why: a sysctl is written through /proc inside the node's namespace when the lab comes up, and a key the
namespace lacks (global, read-only there, a typo, an interface that is not the node's) or a value its
handler refuses (EINVAL) failed ``up`` half-way -- 32 of 36 accepted-then-failed fuzz mutants were
sysctls. The facts come from :mod:`netlab.core.kernel_limits` (generated from a real namespace); the
writes are checked in the order ``up`` makes them, since a few keys limit each other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from netlab.core.kernel_limits import Refusal, Sysctl, SysctlState, conf_leaf, find_sysctl, numbers, value_problem

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.core.facts import NodeFacts
    from netlab.model.topology import Endpoint, Node

SYSCTL_KEY = re.compile(r"[A-Za-z0-9_.-]+")


def check_sysctls(name: str, node: Node, facts: NodeFacts, ends: list[tuple[Endpoint, PathKey, str]],
                  col: Collector) -> None:
    """Node ``name``'s sysctls, then its interfaces' (``ends``: its link and LAN ends with their data paths and
    interface names), in the order ``up`` writes them."""
    state = SysctlState()
    off: dict[str, PathKey | None] = {}
    """Interfaces whose IPv6 a sysctl turns off (disable_ipv6), with that sysctl's path; None: back on."""
    for key, value in node.sysctls.items():
        path: PathKey = ("nodes", name, "sysctls", key)
        if not key.startswith("net.") or not SYSCTL_KEY.fullmatch(key):
            col.add(path, f"sysctl {key!r} is not a network-namespace sysctl",
                    "only net.* keys are per namespace; anything else would change the whole machine")
            continue
        if _check(find_sysctl(key, facts.mtu), key, value, state, path, col):
            _note_ipv6_off(key, value, path, facts, off)
    for ep, ep_path, ifname in ends:
        for key, value in ep.sysctls.items():
            path = (*ep_path, "sysctls", key)
            if not SYSCTL_KEY.fullmatch(key) or key.startswith("net."):
                col.add(path, f"per-interface sysctl {key!r} is not a conf key",
                        "write keys relative to net.ipv4.conf.<ifname>. (e.g. rp_filter), or ipv6.<key>")
                continue
            found = conf_leaf(key, ifname, facts.mtu)
            full = found.key if isinstance(found, Sysctl) else key
            if _check(found, full, value, state, path, col):
                _note_ipv6_off(full, value, path, facts, off)
    _check_ipv6_off(name, node, facts, off, col)


def _note_ipv6_off(key: str, value: int | str, path: PathKey, facts: NodeFacts, off: dict[str, PathKey | None]) -> None:
    """Follow disable_ipv6 as ``up`` writes it: ``all`` sets every interface that exists (they all do by then),
    an interface's own key sets that one; ``default`` only concerns interfaces made later, so none.

    Why starting from "on" everywhere is right also in a lab without IPv6: ``up`` no longer turns IPv6 off in
    each namespace there, it keeps it on and silent (no link-local addresses; bridges off, before the
    sysctls: netlab.kernel.proc), so only these sysctls make an interface refuse IPv6. Such a lab has no
    IPv6 address or route for them to conflict with anyway: ``ipv6: false`` refuses them (validate.py), and
    without ``ipv6:`` any of them turns IPv6 on. A user's ``ipv6.disable_ipv6: 0`` there gets its
    interface the kernel's link-local address, as before (netlab.model.ipv6.ipv6_set_by_sysctls)."""
    if not (key.startswith("net.ipv6.conf.") and key.endswith(".disable_ipv6")):
        return
    ifname = key[len("net.ipv6.conf."):-len(".disable_ipv6")]
    found = numbers(value)
    disabled = path if isinstance(found, list) and found and found[0] != 0 else None
    for target in (facts.mtu if ifname == "all" else [ifname] if ifname in facts.mtu else []):
        off[target] = disabled


def _check_ipv6_off(name: str, node: Node, facts: NodeFacts, off: dict[str, PathKey | None], col: Collector) -> None:
    """IPv6 addresses and routes on an interface whose IPv6 a sysctl turned off: the kernel refuses them."""
    for ifname, cause in off.items():
        if cause is None:
            continue
        for addr, apath in facts.addresses.get(ifname, []):
            if addr.version == 6:
                col.add(apath, f"{addr} is on {ifname}, whose IPv6 {_fmt(cause)} turns off",
                        "the kernel refuses an IPv6 address where IPv6 is disabled (EACCES); remove the address "
                        "or the sysctl")
        for k, route in enumerate(node.routes):
            if route is not None and route.dev == ifname and ":" in (route.to + (route.via or "")):
                col.add(("nodes", name, "routes", k, "dev"), f"IPv6 is off on {ifname} ({_fmt(cause)})",
                        "the kernel refuses an IPv6 route through it (ENETDOWN); remove the route or the sysctl")


def _fmt(path: PathKey) -> str:
    from netlab.core.diagnostics import format_path

    return format_path(path)


def _check(found: Sysctl | Refusal | None, key: str, value: int | str, state: SysctlState, path: PathKey,
           col: Collector) -> bool:
    """Report what is wrong with writing ``value`` to ``key``; True if the kernel would take it."""
    if isinstance(found, Refusal):
        col.add(path, found.message, found.hint)
        return False
    problem = value_problem(found, value) if found is not None else None
    if problem is None:
        problem = state.write(key, value)
    if problem is not None:
        col.add(path, problem.message, problem.hint)
    return problem is None
