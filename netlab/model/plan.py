"""The plan: an ordered list of plain-data kernel actions.

The plan is the contract between "what the lab says" and "what the kernel gets". It is plain data on
purpose: ``netlab up --dry-run`` prints it, golden tests compare it as JSON, and apply is a loop over
it. Each action knows how to describe itself to a human; none knows how to execute itself (that is
:mod:`netlab.stages.apply`'s job, so the plan stays testable without root).

Actions come in phases (namespaces, links, sysctls, up, addresses, routes, ipvs, iptables, init, commands, services,
limits).
Apply sends a whole phase before the next one starts, which is what lets it batch hundreds of netlink messages per
namespace into one system call.
"""

from __future__ import annotations

import json
import typing
from typing import ClassVar, Literal

from netlab.core.codec import to_data
from netlab.core.frozen import frozen
from netlab.features.ipvs.resolved import IpvsDest  # one type for a real server, resolved and planned

Phase = Literal["netns", "links", "sublinks", "sysctls", "up", "addresses", "routes", "qdiscs", "ipvs", "iptables",
                "init", "commands", "services", "limits"]
PHASES: tuple[Phase, ...] = ("netns", "links", "sublinks", "sysctls", "up", "addresses", "routes", "qdiscs", "ipvs",
                             "iptables", "init", "commands", "services", "limits")


@frozen
class CreateNetns:
    """A named namespace (``/run/netns/<netns>``), ``lo`` up and tagged, IPv6 silent (its interfaces get no
    link-local address: netlab.kernel.rtnl.no_link_local) -- or on without duplicate address detection (see
    netlab.kernel.proc.ipv6_without_dad)."""

    phase: ClassVar[Phase] = "netns"
    netns: str
    owner: str
    """The node or LAN this namespace is."""
    ipv6: bool

    def describe(self) -> str:
        v6 = ", IPv6 without DAD" if self.ipv6 else ", IPv6 silent"
        return f"namespace {self.netns} for {self.owner} (lo up{v6})"


@frozen
class CreateBridge:
    phase: ClassVar[Phase] = "links"
    netns: str
    name: str
    index: int
    mtu: int | None

    def describe(self) -> str:
        return f"bridge {self.name} (index {self.index}) in {self.netns}" + (f", mtu {self.mtu}" if self.mtu else "")


@frozen
class CreateVeth:
    """Both ends are created directly in their own namespaces, with their final names and indexes."""

    phase: ClassVar[Phase] = "links"
    netns: str
    name: str
    index: int
    mtu: int | None
    mac: str | None
    peer_netns: str
    peer_name: str
    peer_index: int
    peer_mtu: int | None
    peer_mac: str | None

    def describe(self) -> str:
        return f"veth {self.netns}:{self.name} <-> {self.peer_netns}:{self.peer_name}" + (
            f", mtu {self.mtu}" if self.mtu else "")


@frozen
class CreateTunnel:
    """A GRE, IPIP or VXLAN interface in a node: its underlay ``local``/``remote`` and key, VNI, port, TTL."""

    phase: ClassVar[Phase] = "links"
    netns: str
    name: str
    index: int
    kind: str
    local: str
    remote: str
    key: int | None
    vni: int | None
    port: int | None
    ttl: int | None
    mtu: int | None

    def describe(self) -> str:
        extra = "".join(f" {k} {v}" for k, v in (("key", self.key), ("vni", self.vni), ("dstport", self.port),
                                                  ("ttl", self.ttl), ("mtu", self.mtu)) if v is not None)
        return f"{self.kind} {self.netns}:{self.name} local {self.local} remote {self.remote}{extra}"


@frozen
class CreateStitch:
    """A node's interface that is a VXLAN device whose UDP socket is in the host's namespace (netlab's own): one
    end of a link to a node on another machine (netlab.features.stitches). Created from the host's namespace
    and born in ``netns``."""

    phase: ClassVar[Phase] = "links"
    netns: str
    name: str
    index: int
    vni: int
    local: str
    remote: str
    port: int
    mtu: int
    mac: str | None

    def describe(self) -> str:
        mac = f" address {self.mac}" if self.mac else ""
        return (f"stitch {self.netns}:{self.name}: vxlan id {self.vni} local {self.local} remote {self.remote} "
                f"dstport {self.port} mtu {self.mtu}{mac} (socket in the host's namespace)")


@frozen
class CreateSubInterface:
    """A macvlan/ipvlan on a parent interface, sent on the parent's namespace (where the kernel finds the
    parent) and created directly in ``target_netns``. Its own phase: every parent (a veth end, made in
    whichever namespace sorts first) exists before any of these is sent."""

    phase: ClassVar[Phase] = "sublinks"
    netns: str
    parent_name: str
    parent_index: int
    kind: str
    mode: str
    target_netns: str
    name: str
    index: int
    mac: str | None
    mtu: int | None

    def describe(self) -> str:
        return (f"{self.kind} {self.target_netns}:{self.name} mode {self.mode} on {self.netns}:{self.parent_name}"
                + (f", mac {self.mac}" if self.mac else "") + (f", mtu {self.mtu}" if self.mtu else ""))


@frozen
class SetSysctl:
    phase: ClassVar[Phase] = "sysctls"
    netns: str
    key: str
    value: str
    reason: str = ""
    """Why netlab sets it when the topology did not ask (a derived setting), else empty."""

    def describe(self) -> str:
        return f"sysctl {self.key}={self.value} in {self.netns}" + (f"  ({self.reason})" if self.reason else "")


@frozen
class LinkUp:
    """Bring an interface up, tag it with the lab (ifalias), and attach it to a bridge if it is a port."""

    phase: ClassVar[Phase] = "up"
    netns: str
    name: str
    index: int
    alias: str
    master_index: int | None = None
    reason: str = ""
    """Set for an interface netlab did not create (``tunl0``): it is then found by name (index 0)."""

    def describe(self) -> str:
        master = f", port of bridge index {self.master_index}" if self.master_index else ""
        why = f"  ({self.reason})" if self.reason else ""
        return f"up {self.netns}:{self.name}{master}{why}"


@frozen
class SetBridgePort:
    """Hairpin mode on a bridge port (``ip link set NAME type bridge_slave hairpin on``), once it is a port.

    A separate message after :class:`LinkUp`: the kernel hands a port's settings to its master's driver, and
    before the ``LinkUp`` that sets the master there is none (EOPNOTSUPP)."""

    phase: ClassVar[Phase] = "up"
    netns: str
    name: str
    index: int
    hairpin: bool = True

    def describe(self) -> str:
        return f"bridge port {self.netns}:{self.name}: hairpin {'on' if self.hairpin else 'off'}"


@frozen
class SetLimits:
    """A node's services moved into a cgroup v2 of their own with these limits (``cpu.max``, ``memory.max``,
    ``pids.max``). Last, once the services run: they are what the limits are for."""

    phase: ClassVar[Phase] = "limits"
    netns: str
    node: str
    cpu_max: str | None = None
    """``cpu.max`` as the kernel reads it: ``"25000 100000"`` (µs of quota per period)."""
    memory_max: int | None = None
    pids_max: int | None = None

    def settings(self) -> str:
        """``cpu.max 2000 100000, memory.max 67108864``: the files written, as in a diagram's note."""
        return ", ".join(f"{name} {value}" for name, value in (("cpu.max", self.cpu_max), ("memory.max",
                         self.memory_max), ("pids.max", self.pids_max)) if value is not None)

    def describe(self) -> str:
        return f"cgroup of node {self.node}: {self.settings()}"


@frozen
class AddAddress:
    phase: ClassVar[Phase] = "addresses"
    netns: str
    name: str
    index: int
    address: str
    reason: str = ""

    def describe(self) -> str:
        return f"address {self.address} on {self.netns}:{self.name}" + (f"  ({self.reason})" if self.reason else "")


@frozen
class AddRoute:
    phase: ClassVar[Phase] = "routes"
    netns: str
    to: str
    via: str | None
    dev: str | None
    dev_index: int | None
    metric: int | None
    src: str | None
    family: int
    reason: str = ""

    def describe(self) -> str:
        parts = [f"route {self.to}"]
        if self.via:
            parts.append(f"via {self.via}")
        if self.dev:
            parts.append(f"dev {self.dev}")
        if self.metric is not None:
            parts.append(f"metric {self.metric}")
        return " ".join(parts) + f" in {self.netns}" + (f"  ({self.reason})" if self.reason else "")


@frozen
class AddIpvsService:
    """One IPVS virtual service and its real servers, in the director's namespace."""

    phase: ClassVar[Phase] = "ipvs"
    netns: str
    name: str
    family: int
    protocol: str
    vip: str | None
    port: int
    fwmark: int | None
    scheduler: str
    persistence: int | None
    flags: tuple[str, ...]
    dests: tuple[IpvsDest, ...]

    def describe(self) -> str:
        what = f"fwmark {self.fwmark}" if self.fwmark is not None else f"{self.protocol} {self.vip}:{self.port}"
        servers = ", ".join(f"{d.node} {d.address}:{d.port} {d.mode} w{d.weight}" for d in self.dests)
        persist = f" persistence {self.persistence}s" if self.persistence else ""
        return f"ipvs service {what} scheduler {self.scheduler}{persist} -> {servers} in {self.netns}"


@frozen
class LoadIptables:
    """A node's whole iptables ruleset as one ``iptables-restore`` payload, loaded all-or-nothing inside it
    (see :mod:`netlab.features.iptables.kernel`): after the addresses and routes, before commands and services."""

    phase: ClassVar[Phase] = "iptables"
    netns: str
    node: str
    payload: str
    rule_lines: tuple[tuple[int, str], ...]
    """(payload line, where it came from: ``lab.yml:31`` or ``table nat`` for a COMMIT line)."""

    def describe(self) -> str:
        tables = [line[1:] for line in self.payload.splitlines() if line.startswith("*")]
        rules = sum(1 for line in self.payload.splitlines() if line.startswith("-"))
        return f"iptables-restore in {self.node}: {rules} rule{'s' if rules != 1 else ''} in {', '.join(tables)}"


@frozen
class SetQdisc:
    """The root qdisc of one interface (:mod:`netlab.features.shaping`): netem (delay, jitter, loss, duplicate,
    reorder, and its own rate) or tbf (a plain bottleneck). Values in the kernel's units, 0 for unset."""

    phase: ClassVar[Phase] = "qdiscs"
    netns: str
    node: str
    ifname: str
    kind: Literal["netem", "tbf", "fq", "fq_codel"]
    delay_us: int
    jitter_us: int
    loss: float
    duplicate: float
    reorder: float
    rate_bps: int
    limit: int
    """netem: packets; tbf: bytes."""
    burst: int
    """tbf: bytes the bucket holds."""
    origin: str
    queue: Literal["", "fq", "fq_codel"] = ""
    """tbf's child qdisc, which holds the bottleneck's queue instead of tbf's byte FIFO ("": none)."""
    queue_limit: int = 0
    """The child's limit in packets (0: its default)."""

    def settings(self) -> str:
        """``delay 20ms ±2ms loss 1% rate 10mbit``: what the shaping does, in the units a topology uses."""
        parts = [f"delay {self.delay_us / 1000:g}ms" + (f" ±{self.jitter_us / 1000:g}ms" if self.jitter_us else "")
                 if self.delay_us else "", f"loss {self.loss:g}%" if self.loss else "",
                 f"duplicate {self.duplicate:g}%" if self.duplicate else "",
                 f"reorder {self.reorder:g}%" if self.reorder else "",
                 f"rate {self.rate_bps / 1e6:g}mbit" if self.rate_bps else "",
                 f"queue {self.queue}" + (f" limit {self.queue_limit}" if self.queue_limit else "") if self.queue
                 else ""]
        return " ".join(p for p in parts if p)

    def describe(self) -> str:
        unit = "b" if self.kind == "tbf" else "p"
        what = " ".join(p for p in (self.settings(), f"limit {self.limit}{unit}" if self.limit else "") if p)
        return f"qdisc {self.kind} on {self.node}:{self.ifname}: {what} ({self.origin})"


@frozen
class StartInit:
    """A node's init (netlab.kernel.nodeinit): pid 1 of the node's own pid namespace, holding its ``namespaces``
    beyond ``net``. Before the node's commands and services, which join them."""

    phase: ClassVar[Phase] = "init"
    netns: str
    node: str
    namespaces: tuple[str, ...]

    def describe(self) -> str:
        return f"init of node {self.node}: namespaces {' '.join(self.namespaces)} of its own"


@frozen
class RunCommand:
    phase: ClassVar[Phase] = "commands"
    netns: str
    node: str
    command: str

    def describe(self) -> str:
        return f"run in {self.node}: {self.command}"


@frozen
class StartService:
    """A netlab service (tcp-echo, udp-echo, discard, http) started in a node, last: after the node's commands, so
    a service can rely on addresses and firewall rules they set up. Apply returns once it listens."""

    phase: ClassVar[Phase] = "services"
    netns: str
    node: str
    name: str
    kind: str
    protocol: str
    address: str
    port: int
    body: str

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"start {self.kind} service {self.name} on {self.protocol} {host}:{self.port} in {self.node}"


Action = (CreateNetns | CreateBridge | CreateVeth | CreateTunnel | CreateStitch | CreateSubInterface | SetSysctl
          | LinkUp | SetBridgePort | SetLimits | AddAddress | AddRoute | SetQdisc | AddIpvsService
          | LoadIptables | StartInit | RunCommand | StartService)


def action_name(kind: type) -> str:
    """``create_veth`` for CreateVeth: an action's name in the plan's JSON form."""
    return "".join("_" + c.lower() if c.isupper() else c for c in kind.__name__).lstrip("_")


def action_to_dict(action: Action) -> dict[str, object]:
    """``{"action": "create_veth", ...fields}``: the JSON form used by --dry-run --json and goldens."""
    name = action_name(type(action))
    fields = typing.cast(dict[str, object], to_data(action))  # asdict deep-copies: 3x slower at 1000 nodes
    if fields.get("reason") == "":
        del fields["reason"]  # most actions are what the topology says; only derived ones carry a reason
    return {"action": name, "phase": action.phase, **fields}


@frozen
class Plan:
    lab: str
    namespaces: tuple[str, ...]
    actions: tuple[Action, ...]

    def to_dict(self) -> dict[str, object]:
        return {"lab": self.lab, "namespaces": list(self.namespaces),
                "actions": [action_to_dict(a) for a in self.actions]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def by_phase(self) -> list[tuple[Phase, list[Action]]]:
        out: list[tuple[Phase, list[Action]]] = []
        for action in self.actions:
            if not out or out[-1][0] != action.phase:
                out.append((action.phase, []))
            out[-1][1].append(action)
        return out
