"""Which interfaces of a lab without IPv6 netlab keeps silent, and how: one rule for apply and ``netlab export``.

Pure (no kernel): derived from the plan alone, so the script ``netlab export`` writes builds what ``up`` builds
(tests/integration/test_export.py compares the two). The kernel side is in :mod:`netlab.kernel.proc` and
:func:`netlab.kernel.rtnl.no_link_local`; why IPv6 is kept silent rather than turned off is said there.
"""

from __future__ import annotations

from collections.abc import Iterable

from netlab.core.frozen import frozen
from netlab.model.plan import CreateBridge, CreateNetns, Plan, RunCommand, SetSysctl

IPV6_OWN_KEYS = ("disable_ipv6", "addr_gen_mode")
"""The per-interface IPv6 sysctls that decide whether an interface gets a link-local address."""


@frozen
class Silence:
    """What a plan's lab without IPv6 gets (empty for a lab with IPv6 everywhere)."""

    own: dict[str, frozenset[str]]
    """Each namespace without IPv6 → its interfaces that do *not* get address generation mode none
    (:func:`silent_namespaces`): a LinkUp there gets it unless its name or ``"all"`` is in the set."""
    later_off: frozenset[str]
    """Namespaces without IPv6 where the lab runs commands: ``default.disable_ipv6`` there, so interfaces the
    commands make are silent too (:func:`netlab.kernel.proc.later_interfaces_ipv6_off`)."""

    def gets_mode_none(self, netns: str, name: str) -> bool:
        """Whether interface ``name`` of ``netns`` is set to address generation mode none before it comes up."""
        own = self.own.get(netns)
        return own is not None and not {"all", name} & own


def silence_of(plan: Plan) -> Silence:
    """The plan's :class:`Silence`."""
    actions = plan.actions
    without = [a.netns for a in actions if isinstance(a, CreateNetns) and not a.ipv6]
    own = silent_namespaces(without, [(a.netns, a.key) for a in actions if isinstance(a, SetSysctl)],
                            [(a.netns, a.name) for a in actions if isinstance(a, CreateBridge)])
    commanded = {a.netns for a in actions if isinstance(a, RunCommand)}
    return Silence(own, frozenset(ns for ns in without if ns in commanded))


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
    whose IPv6 is off instead (:func:`netlab.kernel.proc.bridge_ipv6_off`). ``sysctls`` and ``bridges`` are
    (namespace, key or name) pairs of the whole plan."""
    keys: dict[str, list[str]] = {}
    for netns, key in sysctls:
        keys.setdefault(netns, []).append(key)
    for netns, name in bridges:  # the key bridge_ipv6_off writes
        keys.setdefault(netns, []).append(f"net.ipv6.conf.{name}.disable_ipv6")
    return {netns: ipv6_set_by_sysctls(keys.get(netns, ())) for netns in without_ipv6}
