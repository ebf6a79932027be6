"""The one registration list of features, and the hooks of the commands that must start fast.

Every feature netlab has is one :class:`Entry` here, in the order the stages run their hooks
(:mod:`netlab.features.registry` imports each entry's ``FEATURE`` for the stages). An entry also names,
as ``"module:function"`` strings, the hooks that ``down``, ``clean``, ``status``, ``probe`` and ``--help`` call.

Why two levels: a feature's ``FEATURE`` table holds its validate, resolve and plan functions, which import
its pydantic models; importing every feature's table to learn that one of them has a verb or a cgroup to
remove made ``netlab --help`` import pydantic and every model (≈ 0.3 s) and ``netlab down`` four times slower than
its kernel work. This module imports nothing of netlab's, so those commands load only the hook they call.
Adding a feature: a package under netlab/features with a ``feature.py`` defining ``FEATURE``, its section
in model/topology.py, its part in model/resolved.py, its actions in model/plan.py, and one line here.
Nothing under stages/, cli/ or kernel/ changes (tests/unit/test_layers.py checks that those name no feature).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from netlab.core.frozen import frozen


@frozen
class Entry:
    """A feature's name (its package under netlab/features) and its light hooks, each ``"module:function"``."""

    name: str
    cli: str | None = None
    """function(verb) registering the feature's own verbs (``netlab exercise``); ``verb(name, handler, help,
    description)`` is the CLI's, so a feature's verb gets ``--help`` and exit codes like every other. The
    module must import only what building the parser needs (its handlers import the rest)."""
    interfaces: str | None = None
    """function(lab: ResolvedLab, node) -> [(ifname, addresses)]: the interfaces the feature made in a node, for
    probes (they look for the interface on a target's subnet among them too: an ARP probe from a macvlan) and the
    diagram's interface rows. A string here: a probe run must not import every feature's models."""
    status: str | None = None
    """function(lab: ResolvedLab, netns_of: node -> namespace or None) -> list[StatusPart], for ``netlab status``."""
    teardown: str | None = None
    """function(lab, run) -> list of what it removed: objects the feature made outside the lab's namespaces (a
    cgroup), found again by names recomputed from lab and run. Called by ``down`` after the processes are gone."""
    clean: str | None = None
    """function(live: lab -> run) -> list of what it removed: the feature's objects of no live lab (``clean``)."""
    leftovers: str | None = None
    """function(lab) -> what of the lab's (any run) still exists outside the namespaces: the leak check after
    ``down`` (netlab.pytest_plugin.leftovers)."""
    encoders: tuple[tuple[str, str], ...] = ()
    """(action type's name in netlab.model.plan, function(action, fd_of) -> (message, type, flags)): the feature's
    actions that are one rtnetlink message each, sent in apply's batches."""
    executors: tuple[tuple[str, str], ...] = ()
    """(action type's name, function(executor, actions)): the feature's actions that are not one rtnetlink message.
    Here and not in ``FEATURE``: ``up`` of a lab whose plan is cached (netlab.compiled) applies it without
    importing any feature's validate, resolve or plan code, hence no pydantic model."""


ENTRIES: tuple[Entry, ...] = (
    Entry("tunnels", interfaces="netlab.features.tunnels.resolved:interfaces",
          encoders=(("CreateTunnel", "netlab.features.tunnels.kernel:encode"),
                    ("CreateSubInterface", "netlab.features.tunnels.kernel:encode"),
                    ("SetBridgePort", "netlab.features.tunnels.kernel:bridge_port"))),
    Entry("stitches", interfaces="netlab.features.stitches.resolved:interfaces",
          executors=(("CreateStitch", "netlab.features.stitches.kernel:apply"),)),
    Entry("ipvs", status="netlab.features.ipvs.status:sections",
          executors=(("AddIpvsService", "netlab.features.ipvs.kernel:apply"),)),
    Entry("iptables", status="netlab.features.iptables.status:sections",
          executors=(("LoadIptables", "netlab.features.iptables.kernel:apply"),)),
    Entry("shaping", cli="netlab.features.shaping.cli:register",
          executors=(("SetQdisc", "netlab.features.shaping.kernel:apply"),)),
    Entry("isolation", executors=(("StartInit", "netlab.features.isolation.kernel:apply"),)),
    Entry("services", executors=(("StartService", "netlab.features.services.runner:apply"),)),
    Entry("limits", status="netlab.features.limits.status:sections", teardown="netlab.features.limits.kernel:teardown",
          clean="netlab.features.limits.kernel:clean", leftovers="netlab.features.limits.kernel:leftovers",
          executors=(("SetLimits", "netlab.features.limits.kernel:apply"),)),
    Entry("exercises", cli="netlab.features.exercises.cli:register"),
)
"""Order matters where a feature grows what a later one checks: tunnels add interfaces and addresses that IPVS
checks (a real server reached over a tunnel) and routes see."""


@frozen
class StatusPart:
    """What ``netlab status`` shows of one feature in one node, read back from the kernel now."""

    node: str
    title: str
    """``IPVS on director``."""
    text: str
    """The lines to print, laid out like the tool a learner knows (``ipvsadm -Ln --stats``, ``iptables-save -c``)."""
    data: object
    """The same as plain JSON data: ``netlab status --json`` has it at ``<feature>.<node>``."""


def load_hook(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (a kernel-side or command hook) on first use."""
    module, _, name = ref.partition(":")
    hook: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return hook


def by_action(slot: str) -> dict[str, str]:
    """Action type's name → ``"module:function"``, over every entry's ``encoders`` or ``executors``."""
    return {kind: ref for e in ENTRIES for kind, ref in getattr(e, slot)}


def owner_of(action_type: str) -> str | None:
    """The feature whose encoder or executor applies actions of this type (None: the core's)."""
    return next((e.name for e in ENTRIES for kind, _ in (*e.encoders, *e.executors) if kind == action_type), None)


def hooks(slot: str) -> list[tuple[str, Callable[..., Any]]]:
    """(feature name, its ``slot`` hook imported) for every entry that fills ``slot``, in manifest order."""
    return [(e.name, load_hook(ref)) for e in ENTRIES if (ref := getattr(e, slot)) is not None]


__all__ = ["ENTRIES", "Entry", "StatusPart", "by_action", "hooks", "load_hook", "owner_of"]
