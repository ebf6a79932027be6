"""The lab after resolve: every default filled in, every kernel name and index chosen.

These are what plan and status work from. Nothing here is optional any more: an interface knows its
namespace, its index, its peer and its addresses, so the plan can be written without looking
anything up in the kernel (which is also what makes ``--dry-run`` exact).
"""

from __future__ import annotations

from dataclasses import field

from netlab.core.derived import DerivedSetting
from netlab.core.frozen import frozen
from netlab.features.iptables.resolved import ResolvedTable
from netlab.features.ipvs.resolved import ResolvedService
from netlab.features.services.spec import ServiceSpec
from netlab.features.tunnels.resolved import ResolvedOverlay
from netlab.model.plan import CreateStitch, SetLimits, SetQdisc, StartInit


@frozen
class Peer:
    """The other end of a veth pair."""

    netns: str
    ifname: str
    index: int
    mac: str | None
    mtu: int | None


@frozen
class ResolvedInterface:
    """A veth end inside a node."""

    name: str
    index: int
    addresses: tuple[str, ...]
    mtu: int | None
    mac: str | None
    sysctls: tuple[tuple[str, str], ...]
    """Full sysctl keys (``net.ipv4.conf.eth0.rp_filter``) with their values, in file order."""
    peer: Peer
    segment: str
    """``links[0]`` or ``lans.lan1``: where the other end is."""


@frozen
class ResolvedRoute:
    to: str
    via: str | None
    dev: str | None
    dev_index: int | None
    metric: int | None
    src: str | None
    family: int
    """4 or 6."""


@frozen
class ResolvedNode:
    name: str
    netns: str
    description: str
    interfaces: tuple[ResolvedInterface, ...]
    loopback: tuple[str, ...]
    sysctls: tuple[tuple[str, str], ...]
    routes: tuple[ResolvedRoute, ...]
    commands: tuple[str, ...]
    derived: tuple[DerivedSetting, ...] = ()
    """Settings this node needs for its role (IPVS director or real server), each with its reason."""
    services: tuple[ServiceSpec, ...] = ()
    """Services started in this node after its commands (tcp-echo, udp-echo, discard, http)."""
    iptables: tuple[ResolvedTable, ...] = ()
    """The node's iptables tables (raw, mangle, nat, filter order), each rule with netlab's comment and origin."""
    limits: SetLimits | None = None
    """The node's cgroup limits (:mod:`netlab.features.limits`), resolved straight into the plan's action."""
    init: StartInit | None = None
    """The node's init holding its own uts/ipc/pid/mnt namespaces (:mod:`netlab.features.isolation`)."""


@frozen
class BridgePort:
    name: str
    index: int
    node: str


@frozen
class ResolvedLan:
    name: str
    netns: str
    bridge: str
    bridge_index: int
    mtu: int | None
    ports: tuple[BridgePort, ...]


@frozen
class ResolvedStitch:
    """A stitch (netlab.features.stitches): the device to create, and the addresses the node gives it."""

    node: str
    create: CreateStitch
    addresses: tuple[str, ...] = ()


@frozen
class ResolvedLab:
    name: str
    description: str
    source: str
    ipv6: bool
    requires: tuple[str, ...]
    nodes: tuple[ResolvedNode, ...]
    lans: tuple[ResolvedLan, ...]
    ipvs: tuple[ResolvedService, ...] = ()
    overlay: ResolvedOverlay = field(default_factory=ResolvedOverlay)
    """Tunnels, macvlan/ipvlan sub-interfaces and bridges inside nodes (:mod:`netlab.features.tunnels`)."""
    stitches: tuple[ResolvedStitch, ...] = ()
    """Interfaces whose other end is on another machine (:mod:`netlab.features.stitches`)."""
    shaping: tuple[SetQdisc, ...] = ()
    """Root qdiscs of shaped interfaces (:mod:`netlab.features.shaping`), resolved straight into the plan's
    actions: nothing is left to decide between resolve and plan."""
    exercise: dict[str, object] | None = None
    """The ``exercise:`` section as plain data (:mod:`netlab.features.exercises`): grading reads it from the
    state, so editing the file after ``exercise start`` does not change how the lab is graded."""
    probes: tuple[dict[str, object], ...] = ()
    """The declared probes as plain data (``from`` spelled as in YAML). Recorded in the state so that
    ``netlab probe`` runs exactly the probes of the lab that was brought up."""

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(n.netns for n in self.nodes) + tuple(lan.netns for lan in self.lans)

    def node(self, name: str) -> ResolvedNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)
