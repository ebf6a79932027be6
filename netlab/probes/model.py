"""The ``probes:`` list of a topology, as typed frozen models (one per kind, discriminated by ``kind``).

Only pydantic is imported here (and the shared constants of :mod:`netlab.probes.spec`): :mod:`netlab.model.topology`
imports this module. Cross-references (does node ``from`` exist, is ``during`` another probe) are checked in
:mod:`netlab.probes.checks`. These models validate; the runners read a lab's recorded probes as the pydantic-free
records of :mod:`netlab.probes.spec` (same fields, same defaults).

The node a probe runs in is ``from`` in YAML; Python has no attribute of that name, so the field is
``from_`` with the alias ``from`` (``PingProbe(kind="ping", name="p", from_="client", to="10.0.2.10")``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from netlab.probes.model_base import Amount, AmountField, Names, Port, Seconds, _Model, _Probe
from netlab.probes.model_flow import FlowCheck, FlowProbe
from netlab.probes.spec import (
    ICMP4_ERRORS,
    ICMP6_ERRORS,
    LOCAL_ERRORS,
    PATH_KINDS,
    PROBE_KINDS,
    TRAFFIC_KINDS,
    FlowMetric,
    LinkCounter,
    Outcome,
)

__all__ = ["ICMP4_ERRORS", "ICMP6_ERRORS", "LOCAL_ERRORS", "PATH_KINDS", "PROBE_KINDS", "TRAFFIC_KINDS", "Amount",
           "AmountField", "AnyProbe", "Claim", "FlowCheck", "FlowMetric", "FlowProbe", "LinkCounter", "Names",
           "Outcome", "Port", "Probe", "Seconds"]

def _icmp_error(text: str | None) -> str | None:
    known = sorted({*ICMP4_ERRORS.values(), *ICMP6_ERRORS.values(), *LOCAL_ERRORS})
    if text is not None and text not in known:
        raise ValueError(f"not an ICMP error netlab names; one of: {', '.join(known)}")
    return text


class PingProbe(_Probe):
    """ICMP echo from a node to an address; counts answers (and ICMP errors, which end the wait early)."""

    kind: Literal["ping"]
    """``ping``."""
    from_: str = Field(alias="from")
    """Node the echo requests are sent from."""
    to: str
    """Address to ping (IPv4 or IPv6)."""
    count: int = Field(default=3, ge=1, le=10000)
    """Number of echo requests."""
    interval: float = Field(default=0.01, ge=0, le=10)
    """Seconds between two echo requests."""
    loss: int = Field(default=0, ge=0, le=100)
    """Expected loss in percent: 0 = every request answered, 100 = none (an unreachable address). In between,
    the observed loss must be within one request of it."""
    timeout: Seconds = 1.0
    """Seconds to wait for answers after the last request was sent."""
    size: int = Field(default=20, ge=20, le=65000)
    """Bytes of ICMP payload (``ping -s``): 1422 makes a 1450-byte IPv4 packet."""
    df: bool = False
    """Don't fragment (``ping -M do``): a packet too big for a link is refused, not split."""
    error: Annotated[str | None, AfterValidator(_icmp_error)] = None
    """The ICMP error every unanswered request must get back (``network unreachable``, ``host unreachable``,
    ``TTL exceeded in transit``, ``fragmentation needed``, …): a router that *says* why, not a silent drop; or
    ``message too long``: the sender's own kernel refused a DF packet bigger than the route's (path) MTU."""


class _Connection(_Probe):
    from_: str = Field(alias="from")
    """Node the client runs in."""
    to: str
    """Address to connect to (IPv4 or IPv6)."""
    source: str | None = None
    """Local address to send from (default: chosen by the node's routing)."""
    expect: Outcome = "ok"
    """``ok`` (default), ``refused``, ``timeout``, ``unreachable`` or ``fail`` (anything but ok)."""
    timeout: Seconds = 1.0
    """Seconds to wait for the connection and for the answer."""


class TcpProbe(_Connection):
    """TCP connect, then N random bytes sent and read back intact (as the kernel's ipvs.sh does with socat)."""

    kind: Literal["tcp"]
    """``tcp``."""
    port: Port = 7
    """Destination port (default 7: a ``tcp-echo`` service)."""
    bytes: int = Field(default=32, ge=1, le=1_000_000)
    """Number of random bytes sent and expected back."""


class UdpProbe(_Connection):
    """One datagram of N random bytes; the same bytes must come back."""

    kind: Literal["udp"]
    """``udp``."""
    port: Port = 7
    """Destination port (default 7: a ``udp-echo`` service)."""
    bytes: int = Field(default=32, ge=1, le=65507)
    """Size of the datagram."""


class HttpProbe(_Connection):
    """HTTP GET; checks status, body and which node served it (a netlab ``http`` service names itself)."""

    kind: Literal["http"]
    """``http``."""
    port: Port = 80
    """Destination port (default 80)."""
    path: str = "/"
    """Path to GET."""
    status: int = Field(default=200, ge=100, le=599)
    """Expected HTTP status."""
    body: str | None = None
    """Text the body must contain."""
    served_by: Names = ()
    """Node (or list of nodes) one of which must have served the answer (header ``X-Netlab-Node``)."""


class ArpProbe(_Probe):
    """ARP who-has for an address, sent from a node's interface; reports every MAC that answered."""

    kind: Literal["arp"]
    """``arp``."""
    from_: str = Field(alias="from")
    """Node that asks."""
    interface: str | None = None
    """Interface to ask on (default: the node's interface whose subnet contains ``to``)."""
    to: str
    """IPv4 address asked for (who has it?)."""
    source: str | None = None
    """Sender IPv4 address in the request (default: the interface's address in the subnet of ``to``)."""
    answers: int | None = Field(default=None, ge=0)
    """Expected number of distinct MACs answering (default 1, unless ``answered_by`` is given)."""
    answered_by: Names = ()
    """Exactly these nodes must answer (by their interfaces' MACs), no other."""
    timeout: Seconds = 0.2
    """Seconds to listen for answers (all of them: the point is to see a second answer)."""


class CaptureProbe(_Probe):
    """Sniff on node interfaces while another probe runs, and count the packets that match."""

    kind: Literal["capture"]
    """``capture``."""
    during: str
    """Name of the probe whose traffic is captured (a ping, tcp, udp, http, arp or distribution probe)."""
    at: Names
    """Where to sniff: ``node:interface`` or a list of them (``router:eth1``). (Not ``on:``, which YAML reads
    as ``true``.)"""
    filter: str | None = None
    """BPF filter, as for tcpdump (``ip proto 47``, ``tcp port 80 and src host 10.0.1.10``)."""
    match: dict[str, str | int] = Field(default_factory=dict)
    """Scapy field matches, all of which must hold: ``{IP.src: 10.0.1.10}``; ``IP[2].dst`` is the second
    (inner) IP header, e.g. inside GRE."""
    direction: Literal["in", "out", "both"] = "both"
    """Count packets received by the interface (``in``), sent by it (``out``) or both."""
    packets: AmountField
    """Expected number of matching packets over all ``at`` interfaces: ``0``, ``3``, ``{min: 1}``."""
    settle: Seconds = 0.02
    """After the probe ends, sniffing goes on until no packet has arrived for this many seconds (packets
    still in flight, such as the last ACK of a TCP close)."""
    timeout: Seconds = 2.0
    """Seconds for the sniffers to start and to stop."""


class DistributionProbe(_Probe):
    """N HTTP requests (a new connection each); counts which node served each one."""

    kind: Literal["distribution"]
    """``distribution``."""
    from_: str = Field(alias="from")
    """Node the requests are sent from."""
    to: Names
    """Address (a virtual IP) the requests go to, or a list of addresses used in turn (for destination
    hashing, where each address should always reach the same node)."""
    port: Port = 80
    """Destination port (an ``http`` service on each real server)."""
    path: str = "/"
    """Path to GET."""
    requests: int = Field(default=30, ge=1, le=100_000)
    """Number of requests (connections)."""
    sources: tuple[str, ...] = ()
    """Local addresses of the ``from`` node to send from, used in turn (for source hashing)."""
    shares: dict[str, float] = Field(default_factory=dict)
    """Expected share of each node, as weights (``{rs1: 1, rs2: 1}`` is even, ``{rs1: 3, rs2: 1}`` 75/25).
    A node not listed is expected to serve nothing."""
    tolerance: float = Field(default=0.1, ge=0, le=1)
    """How far each observed share may be from the expected one (0.1 = 10 percentage points)."""
    sticky: bool | Literal["source", "destination"] = False
    """``true`` (or ``source``): each source address is always served by the same node (source hashing,
    persistence); ``destination``: each ``to`` address is (destination hashing)."""
    servers: AmountField | None = None
    """How many different nodes served the requests: ``1`` (all by one node, whichever it is),
    ``{min: 2}`` (spread over at least two)."""
    hold: int = Field(default=0, ge=0, le=1000)
    """Connections opened first (to the ``to`` addresses and from the ``sources`` in turn) and held open,
    idle, until every request is done: a least-connection scheduler (lc, wlc) then sees those servers busy."""
    timeout: Seconds = 1.0
    """Seconds to wait for each answer."""


class IpvsCounter(_Model):
    """Which IPVS statistics a counters probe reads (``ipvsadm -Ln --stats``)."""

    service: str
    """A virtual service of the lab, by its ``name`` (default name: ``<vip>:<port>/<protocol>``)."""
    dest: str | None = None
    """A real server (node) of that service: its own statistics instead of the service's totals."""
    direction: Literal["in", "out"] = "in"
    """What ``packets`` and ``bytes`` count: ``in`` (client to real server, InPkts) or ``out`` (replies that
    pass the director, OutPkts; they stay 0 in DR and TUN mode, where replies bypass it)."""


class CountersProbe(_Probe):
    """Counters in a node, read before and after another probe; asserts the deltas. iptables rule counters,
    with ``ipvs`` the statistics of an IPVS virtual service or real server, with ``interface`` an interface's
    own (``ip -s link``: a tunnel device that drops what it cannot carry counts TX errors)."""

    kind: Literal["counters"]
    """``counters``."""
    node: str
    """Node whose rules (or IPVS table: the director) are read."""
    during: str
    """Name of the probe whose traffic should (or should not) hit the rule."""
    ipvs: IpvsCounter | None = None
    """Read IPVS statistics instead of an iptables rule: ``{service: web, dest: rs1, direction: out}``."""
    interface: str | None = None
    """Read this interface's statistics of the node instead (``/proc/net/dev``): ``packets`` is the growth
    of ``counter``."""
    counter: LinkCounter = "tx_packets"
    """With ``interface``: ``rx_packets``, ``rx_errors``, ``rx_dropped``, ``tx_packets``, ``tx_errors``,
    ``tx_dropped``."""
    table: str = "filter"
    """iptables table."""
    chain: str | None = None
    """Chain of the rule; with no ``rule``, the chain's policy counters."""
    rule: str | None = None
    """Text that selects exactly one rule in ``iptables-save`` output (a comment, ``--dport 7 -j DROP``)."""
    family: Literal[4, 6] = 4
    """4 for iptables, 6 for ip6tables."""
    packets: AmountField | None = None
    """Expected growth of the packet counter: ``{min: 1}``, ``0`` (with ``ipvs``: InPkts or OutPkts, as
    ``direction`` says)."""
    bytes: AmountField | None = None
    """Expected growth of the byte counter."""
    connections: AmountField | None = None
    """Expected growth of the connection counter (IPVS only: connections scheduled to the service or
    real server)."""


class SysctlProbe(_Probe):
    """A sysctl's value inside a node (read from /proc/sys in the node's namespace)."""

    kind: Literal["sysctl"]
    """``sysctl``."""
    node: str
    """Node to read it in."""
    key: str
    """Dotted name: ``net.ipv4.ip_forward``."""
    value: int | str
    """Expected value (compared as text, surrounding white space ignored)."""


class StateProbe(_Probe):
    """A command run inside a node (``/bin/sh -c``); asserts its exit status and output."""

    kind: Literal["state"]
    """``state``."""
    node: str
    """Node to run it in."""
    command: str
    """Shell command (``ip route get 10.0.2.10``)."""
    exit: int | None = 0
    """Expected exit status (null: any)."""
    output: str | None = None
    """The whole output (stdout and stderr), white space at both ends ignored, must be exactly this."""
    contains: str | None = None
    """Text the output (stdout and stderr) must contain."""
    absent: str | None = None
    """Text the output must not contain."""
    timeout: Seconds = 5.0
    """Seconds the command may run."""


class Claim(_Model):
    """A behaviour the lab's description states, and the probes that would fail if it were false."""

    text: str = Field(min_length=3)
    """Words of the description that state it (matched ignoring case and line breaks)."""
    probes: Names = Field(min_length=1)
    """The probe (or probes) that prove it."""


AnyProbe = (PingProbe | TcpProbe | UdpProbe | HttpProbe | ArpProbe | CaptureProbe | DistributionProbe
            | CountersProbe | SysctlProbe | StateProbe | FlowProbe)
Probe = Annotated[AnyProbe, Field(discriminator="kind")]
