"""The one interface a feature plugs into every stage through: a table of hooks, each named after its stage.

Why a table of optional callables rather than a base class or discovery by reflection: the stages loop over
:data:`netlab.features.FEATURES` and call what a feature filled in, so grep and mypy see every hook and every
caller (ipSpace netlab's ``module_pre_transform`` hooks, found by name at run time, are invisible to both);
a feature that has nothing to say about a stage leaves the slot empty. Hooks that touch the kernel (apply
executors, netlink encoders) are ``"module:function"`` strings imported on first use, so the
pure stages, ``--help`` and ``down`` never import pyroute2 or a feature's kernel code.

Order: features run in the order of ``FEATURES`` at every stage, after the core (namespaces, links, LANs,
addresses, routes, sysctls, commands). Plan actions carry their phase; the plan stage sorts by phase with a
stable sort, so within a phase the core's actions come first, then each feature's in registration order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from netlab.core.frozen import frozen

if TYPE_CHECKING:  # annotations only: a feature's kernel code (down's teardown) imports this module, not them
    from netlab.core.derived import DerivedSetting
    from netlab.core.diagnostics import Collector, LoadedFile, PathKey
    from netlab.core.facts import Addr, NodeFacts
    from netlab.core.requirement import Requirement
    from netlab.model.plan import Action
    from netlab.model.resolved import ResolvedLab
    from netlab.model.topology import Endpoint, Node, Topology

T = TypeVar("T")

Interfaces = dict[str, list[tuple[str, tuple[str, ...]]]]
"""node → its link and LAN interfaces as (name, addresses), in creation order."""


@dataclass
class CheckContext:
    """What validate knows when it calls a feature's checks; features grow ``interfaces`` and ``connected``.

    ``topo`` may be salvaged from a file with shape errors (items that failed are ``None``): a check looks only
    at what parsed, so one typo does not hide the file's other problems.
    """

    loaded: LoadedFile
    topo: Topology
    col: Collector
    names: Mapping[PathKey, str]
    """The link and LAN interface names netlab will create, by the endpoint's data path."""
    interfaces: dict[str, set[str]]
    """Interface names of every node so far (checks of probes and routes look names up here)."""
    connected: dict[str, list[Addr]]
    """Parsable addresses of every node so far."""
    ends: list[tuple[Endpoint, PathKey, str]]
    """Every link and LAN endpoint with its data path and the interface name it gets."""
    salvage: Callable[[type[Any], object], Any]
    """salvage(Model, raw): the well-formed parts of a section the shape pass rejected (its problems reported)."""

    def raw_node(self, name: str) -> Mapping[str, object] | None:
        """The node's raw data as loaded, for salvaging a section the shape pass rejected."""
        nodes = self.loaded.data.get("nodes") if isinstance(self.loaded.data, dict) else None
        raw = nodes.get(name) if isinstance(nodes, dict) else None
        return raw if isinstance(raw, dict) else None


@dataclass
class ResolveContext:
    """What resolve has chosen before features resolve their parts: interface names and indexes."""

    topo: Topology
    interfaces: Interfaces
    index_of: dict[str, dict[str, int]]
    """node → interface name → index; features add the interfaces they create (routes may name them)."""
    netns: Callable[[str], str]
    """node name → namespace name."""
    take: Callable[[str], int]
    """The next free interface index in a namespace."""
    origin: Callable[[PathKey], str]
    """``lab.yml:31`` for a data path (for messages at ``up`` that point at the rule that caused them)."""


@frozen
class PlanContext:
    tag: str
    """The interface tag (netlab.ownership.interface_tag) for every interface netlab creates."""


class Executor(Protocol):
    """What apply offers a feature's executor: the namespaces it has open, and where processes are recorded."""

    lab: str
    run: str
    log_dir: Any

    def fd(self, netns: str) -> int: ...

    def entered(self, fd: int) -> AbstractContextManager[None]: ...

    def started(self, process: object) -> None: ...

    def started_pids(self, node: str) -> list[int]: ...

    def has_init(self, netns: str) -> bool: ...


@frozen
class DiagramPart:
    """What a feature adds to a lab's diagram (netlab graph): roles of nodes and edges of its own."""

    roles: Mapping[str, str] = field(default_factory=dict)
    """node → role label shown under its name (``IPVS director``, ``real server (DR)``, ``VTEP``)."""
    edges: tuple[tuple[str, str, str], ...] = ()
    """(node, node, label) of connections the feature makes (a tunnel ``gre key 42``); an end may be
    ``node:interface`` to draw the edge to that interface (the tunnel's own ``gre1``)."""
    notes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """node → extra lines (``VIP 10.0.10.100/32 on lo``)."""


@frozen
class Feature:
    """One feature's hooks. Every slot is optional; see the module docstring for the order they run in."""

    name: str
    """The feature's name: its package under netlab/features and its section in docs/topology.md."""

    # -- validate (pure)
    facts: Callable[[Topology, Mapping[PathKey, str], dict[str, NodeFacts]], None] | None = None
    """Add the interfaces the feature creates (or makes the kernel create) to each node's facts: MTU, addresses."""
    addresses: Callable[[Topology], Iterable[str]] | None = None
    """Every address text the feature puts on an interface (does the lab use IPv6?)."""
    local_addresses: Callable[[Topology], Mapping[str, set[Any]]] | None = None
    """node → addresses the feature gives it beyond its interfaces' (an IPVS VIP): a route's ``src`` may use them."""
    check: Callable[[CheckContext], None] | None = None
    """Report every problem of the feature's sections; may add interfaces and addresses to the context."""
    check_kernel: Callable[[CheckContext, dict[str, NodeFacts]], None] | None = None
    """Checks against what each namespace will hold (every interface's MTU and addresses)."""
    check_complete: Callable[[CheckContext], None] | None = None
    """Checks that are safe only on a lab with no other problem (they derive settings first)."""
    # -- preflight (pure)
    requirements: Callable[[Topology], Iterable[Requirement]] | None = None
    # -- resolve (pure)
    resolve: Callable[[ResolveContext], Mapping[str, object]] | None = None
    """The feature's fields of :class:`ResolvedLab` by name (declared there, the composition root)."""
    resolve_node: Callable[[ResolveContext, str, Node], Mapping[str, object]] | None = None
    """The feature's fields of one :class:`ResolvedNode` by name."""
    derive: Callable[[ResolveContext], Iterable[DerivedSetting]] | None = None
    """Settings nodes need for the role the feature gives them, each with its reason (plan applies them)."""
    # -- plan (pure)
    plan: Callable[[ResolvedLab, PlanContext], Iterable[Action]] | None = None
    masters: Callable[[ResolvedLab], Mapping[tuple[str, int], int]] | None = None
    """(namespace, interface index) → index of the bridge the feature puts that link/LAN interface in."""
    # -- catalog and command line
    tags: Callable[[Topology], Iterable[str]] | None = None
    """Words ``netlab list`` shows for a lab that uses the feature (``exercise (arp, level 2)``)."""
    # -- views (pure)
    diagram: Callable[[ResolvedLab], DiagramPart] | None = None
    """What the feature adds to ``netlab graph``: roles, its own edges, notes."""
    export: str | None = None
    """"module:function": function(action) -> list of shell lines that do what the action does with the plain
    tools (``ip``, ``ipvsadm``, ``iptables-restore``), for ``netlab export``; for the feature's action types."""
    # -- apply (kernel): the feature's encoders and executors are in its entry in netlab.features.manifest, with
    # the hooks of the commands that must start fast (status, down, clean, a feature's verbs): ``up`` of a
    # cached plan applies it without importing this table.


def node_fields(features: Iterable[Feature], ctx: ResolveContext, name: str, node: Node) -> dict[str, object]:
    """Every feature's fields of one resolved node."""
    out: dict[str, object] = {}
    for feature in features:
        if feature.resolve_node is not None:
            out.update(feature.resolve_node(ctx, name, node))
    return out


def with_parts(obj: T, parts: Mapping[str, object]) -> T:
    """``obj`` (a resolved dataclass) with the features' fields filled in. A name the composition root does not
    declare is a programming error, raised here with the name rather than deep inside ``replace``; the types
    are checked by mypy at each hook's return and by the codec's round trip of every catalog lab."""
    declared = {f.name for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    unknown = sorted(set(parts) - declared)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {', '.join(unknown)}: declare it in netlab/model/")
    changes: dict[str, Any] = dict(parts)
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]



__all__ = [
    "CheckContext",
    "Executor",
    "Feature",
    "Interfaces",
    "PlanContext",
    "ResolveContext",
    "node_fields",
    "with_parts",
]
