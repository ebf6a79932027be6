"""The topology file as typed, frozen models: what the user wrote, checked for shape only.

Why pydantic: one declaration gives us type checking of the YAML, *every* structural error at once
with its data path (``links[2].a.address``), and the JSON Schema that ``netlab schema`` exports for
editors. Cross-references (does node ``rs1`` exist? are both ends of a link in one subnet?) are not
shape and live in :mod:`netlab.stages.validate`.

Every model forbids unknown keys: a typo such as ``adress`` must be an error with a hint, not a
silently ignored line. Later features (tunnels, iptables, IPVS, services, probes) add fields here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from netlab.features.exercises.model import Exercise
from netlab.features.iptables.model import Iptables
from netlab.features.ipvs.model import VirtualService
from netlab.features.isolation.model import Namespace, check_isolate
from netlab.features.limits.model import Limits
from netlab.features.services.model import Service
from netlab.features.shaping.model import Shape
from netlab.features.stitches.model import Stitch
from netlab.features.tunnels.model import NodeBridge, SubInterface, Tunnel
from netlab.probes.model import Claim, Probe

SysctlValue = int | str


def _one_or_many(value: object) -> object:
    """Accept ``address: 10.0.0.1/24`` as well as ``address: [10.0.0.1/24, fd00::1/64]``."""
    if isinstance(value, str):
        return [value]
    return value


AddressList = Annotated[tuple[str, ...], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]


def _empty_is_default(value: object) -> object:
    """``client:`` with nothing under it is a node with every default, not an error."""
    return {} if value is None else value


class Model(BaseModel):
    """Base: frozen, no unknown keys, field docs become the JSON Schema's descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(Model):
    """A static route in a node's main table."""

    to: str
    """Destination prefix (``10.0.2.0/24``, ``2001:db8::/64``) or ``default``."""
    via: str | None = None
    """Next-hop address; it must be in a subnet of one of the node's interfaces."""
    dev: str | None = None
    """Output interface (a name of this node's); needed when ``via`` is absent."""
    metric: int | None = Field(default=None, ge=0, le=2**32 - 1)
    """Route priority (0-4294967295, the kernel's u32); lower wins. Default: 0 for IPv4, 1024 for IPv6 (the
    kernel's; an IPv6 metric of 0 means 1024 too)."""
    src: str | None = None
    """Preferred source address for traffic using this route: an address of this node, of the route's family."""


class Endpoint(Model):
    """One end of a point-to-point link, or one member of a LAN: a node's interface."""

    node: str
    """Name of the node this interface belongs to."""
    interface: str | None = None
    """Interface name inside the node (≤ 15 bytes). Default: ``eth0``, ``eth1``, … in the order the
    node appears in links and LANs."""
    address: AddressList = ()
    """Address(es) with prefix length: ``10.0.1.1/24`` or a list of them."""
    mac: str | None = None
    """Fixed MAC address (``02:00:00:00:00:01``); default: random, assigned by the kernel."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """Interface MTU; default: the link's or LAN's MTU, else the kernel's (1500)."""
    sysctls: dict[str, SysctlValue] = {}
    """Per-interface sysctls, keys relative to ``net.ipv4.conf.<ifname>.`` (``rp_filter: 0``,
    ``arp_ignore: 1``) or prefixed ``ipv6.`` for ``net.ipv6.conf.<ifname>.``."""


class Link(Model):
    """A point-to-point veth pair between two nodes."""

    a: Endpoint
    """First end."""
    b: Endpoint
    """Second end."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """MTU of both ends unless an end sets its own."""


class Lan(Model):
    """A LAN: a Linux bridge in a namespace of its own, each member attached by a veth pair."""

    members: tuple[Endpoint, ...]
    """Node interfaces on this LAN."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """MTU of the bridge and every member unless a member sets its own."""
    description: str | None = None
    """What this segment is for."""


class Node(Model):
    """A node: one network namespace with its own interfaces, addresses, routes and sysctls."""

    description: str | None = None
    """What this node plays in the lab (shown by ``netlab status``)."""
    loopback: AddressList = ()
    """Extra addresses on ``lo`` (a router ID, an IPVS VIP as /32)."""
    sysctls: dict[str, SysctlValue] = {}
    """Namespace sysctls by full dotted name, e.g. ``net.ipv4.ip_forward: 1``. Only ``net.*`` keys:
    anything else is global to the machine, and a lab must not change the host."""
    routes: tuple[Route, ...] = ()
    """Static routes, applied after every address is in place."""
    commands: tuple[str, ...] = ()
    """Shell commands run inside the node (``/bin/sh -c``) after the whole lab is built, in order. A
    command that exits non-zero fails ``up``."""
    services: tuple[Service, ...] = ()
    """Servers started in the node by ``up`` after its commands (``tcp-echo``, ``udp-echo``, ``discard``,
    ``http``), each listening before ``up`` returns, stopped by ``down``; logs under ``/run/netlab/logs/<lab>/``."""
    iptables: Iptables | None = None
    """IPv4 netfilter rules by table (raw, mangle, nat, filter): user chains, policies and rules in
    ``iptables-save`` syntax, loaded with one ``iptables-restore`` inside the node, all or nothing."""
    subinterfaces: tuple[SubInterface, ...] = ()
    """macvlan/ipvlan interfaces of this node on a parent interface inside the lab (``parent: host:eth0``)."""
    bridges: dict[str, NodeBridge] = {}
    """Linux bridges inside this node by name, over some of its interfaces (a VXLAN VTEP's bridge)."""
    limits: Limits | None = None
    """CPU, memory and process limits for the node's services (a cgroup v2 of their own, as a container
    runtime makes): ``{cpu: 25%, memory: 64M, pids: 100}``."""
    host: str | None = None
    """The machine of ``netlab up --hosts INVENTORY`` that runs this node (an inventory host name); without
    ``--hosts`` every node runs here. See docs/multihost.md."""
    isolate: tuple[Namespace, ...] = ()
    """Namespaces beyond ``net`` the node has of its own, as a container has: ``[uts, ipc, pid, mnt]`` (held by
    the node's init, pid 1 inside; commands, services and ``netlab exec`` join them)."""

    @field_validator("isolate")
    @classmethod
    def _isolate(cls, value: tuple[Namespace, ...]) -> tuple[Namespace, ...]:
        return check_isolate(value)


class Topology(Model):
    """A netlab lab."""

    name: str
    """Lab name: prefix of every kernel name the lab creates (namespaces ``nl-<name>-<node>``)."""
    description: str = ""
    """What the lab shows and what to observe; the first line is the catalog's one-liner."""
    requires: tuple[str, ...] = ()
    """Kernel features the lab needs beyond what netlab derives from it (``ip_vs``, ``ip_gre``, …)."""
    ipv6: bool | None = None
    """IPv6 in the lab's namespaces. Default: on only if an address in the lab is IPv6 (when off, no
    DAD/MLD/router-solicitation traffic is generated, which dominates the build of large LANs)."""
    nodes: dict[str, Annotated[Node, BeforeValidator(_empty_is_default, json_schema_input_type=Node | None)]]
    """Nodes by name (≤ 15 bytes, letters, digits, ``-``, ``_``)."""
    links: tuple[Link, ...] = ()
    """Point-to-point links."""
    lans: dict[str, Lan] = {}
    """LANs (bridges) by name."""
    ipvs: tuple[VirtualService, ...] = ()
    """IPVS virtual services: a VIP on a director node and the real servers behind it. netlab derives
    what each node needs for the forwarding mode (VIP placement, ARP sysctls, routes) and says why."""
    tunnels: tuple[Tunnel, ...] = ()
    """GRE, IPIP and VXLAN tunnels between two nodes across the underlay: kind, both ends (node, underlay
    ``local``, interface, inner addresses), key/VNI/port, TTL, MTU."""
    stitches: tuple[Stitch, ...] = ()
    """Interfaces of nodes whose other end is on another machine: VXLAN from the host's own namespace over its
    network (``netlab up --hosts`` makes them of the links it cuts; see docs/multihost.md)."""
    shaping: tuple[Shape, ...] = ()
    """Link shaping: what leaves ``node:interface`` is delayed, lost, duplicated, reordered (netem) or held in a
    rate-limited queue (a bottleneck: netem's rate, or tbf)."""
    probes: tuple[Probe, ...] = ()
    """Checks that prove the lab works (``netlab probe``): ping, tcp, udp, http, arp, capture, distribution,
    counters, sysctl, state; each with what it expects."""
    claims: tuple[Claim, ...] = ()
    """What the description states, each with the probes that prove it: ``{text: "ICMP network unreachable",
    probes: [no-route-beyond]}``. validate checks the words are in the description and the probes exist."""
    exercise: Exercise | None = None
    """Makes the lab a hands-on exercise: the lab as written is the broken start; a task, hints, the probes that
    grade it, a reference solution and known wrong fixes with why they fail (``netlab exercise``)."""
