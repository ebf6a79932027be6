"""The probes of a lab that is up, as the runners see them: plain frozen records, read without pydantic.

Why a second form: the ``probes:`` list is *validated* once, by the pydantic models of
:mod:`netlab.probes.model` (constraints, aliases, the messages a user reads, the JSON Schema), when the lab is
brought up; the state then holds each probe as the model dumped it, every default filled in. ``netlab probe``
only needs to read that back -- and importing pydantic and building those models was a third of its time
(≈ 0.15 s of 0.75 s for ``netlab probe routed``). Here each kind is a :func:`~netlab.core.frozen.frozen`
record of the same fields, read strictly by the state's codec (a value of the wrong type, an unknown or a
missing field is refused with its path, as everything in the state is).

The two forms cannot drift apart unnoticed: ``tests/unit/test_probe_specs.py`` requires the same fields with
the same defaults as the models, and every probe of the catalog to read back equal to its model. The field
documentation is on the models (it is the topology's reference); this module is what the runners import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Literal

from netlab.core.codec import CodecError, from_data
from netlab.core.frozen import frozen

__all__ = ["PATH_KINDS", "PROBE_KINDS", "SPECS", "TRAFFIC_KINDS", "Amount", "AnyProbe", "probe_from_data"]

Outcome = Literal["ok", "refused", "timeout", "unreachable", "fail"]
"""What a connection-level probe (tcp, udp, http) expects: ``ok`` (an answer), ``refused`` (RST, or ICMP
port unreachable for UDP), ``timeout`` (no answer at all: dropped on the way), ``unreachable`` (an ICMP
host/network unreachable), ``fail`` (anything but ``ok``)."""

LinkCounter = Literal["rx_packets", "rx_errors", "rx_dropped", "tx_packets", "tx_errors", "tx_dropped"]
FlowMetric = Literal["throughput", "rtt", "rtt_growth", "retransmits", "cwnd_cuts", "probe_cycles", "queue",
                     "drops"]

ICMP4_ERRORS = {
    (3, 0): "network unreachable", (3, 1): "host unreachable", (3, 2): "protocol unreachable",
    (3, 3): "port unreachable", (3, 4): "fragmentation needed", (3, 9): "network prohibited",
    (3, 10): "host prohibited", (3, 13): "administratively prohibited", (11, 0): "TTL exceeded in transit",
    (11, 1): "fragment reassembly time exceeded",
}
ICMP6_ERRORS = {
    (1, 0): "no route to destination", (1, 1): "administratively prohibited", (1, 3): "address unreachable",
    (1, 4): "port unreachable", (3, 0): "hop limit exceeded in transit", (2, 0): "packet too big",
}
LOCAL_ERRORS = {"message too long"}
"""Errors the sender's own kernel gives instead of sending (``ping -M do`` prints "local error: message too long"):
EMSGSIZE, a DF packet larger than the route's MTU -- the tunnel's, or the path MTU an ICMP error taught it."""

TRAFFIC_KINDS: tuple[str, ...] = ("ping", "tcp", "udp", "http", "arp", "distribution", "flow")
"""Kinds that make traffic, and so can be what a capture or counters probe runs ``during``."""
PATH_KINDS: tuple[str, ...] = tuple(k for k in TRAFFIC_KINDS if k != "flow")
"""Kinds whose packets the path recorder follows (``netlab graph --path``): not a bulk flow, whose tens of thousands
of frames, dissected on every interface, would slow the flow it measures."""


@frozen
class Amount:
    """A count a probe expects: exactly N (``min == max``), at least, at most, or between."""

    min: int | None = None
    max: int | None = None

    def accepts(self, value: int) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self, unit: str) -> str:
        plural = unit if unit.endswith("s") else unit + "s"
        if self.min is not None and self.min == self.max:
            return f"exactly {self.min} {unit if self.min == 1 else plural}"
        if self.min is not None and self.max is not None:
            return f"between {self.min} and {self.max} {plural}"
        if self.min is not None:
            return f"at least {self.min} {unit if self.min == 1 else plural}"
        if self.max is not None:
            return f"at most {self.max} {unit if self.max == 1 else plural}"
        return f"any number of {plural}"


@frozen
class PingProbe:
    name: str
    kind: Literal["ping"]
    from_: str
    to: str
    count: int = 3
    interval: float = 0.01
    loss: int = 0
    timeout: float = 1.0
    size: int = 20
    df: bool = False
    error: str | None = None
    description: str | None = None


@frozen
class TcpProbe:
    name: str
    kind: Literal["tcp"]
    from_: str
    to: str
    port: int = 7
    bytes: int = 32
    source: str | None = None
    expect: Outcome = "ok"
    timeout: float = 1.0
    description: str | None = None


@frozen
class UdpProbe:
    name: str
    kind: Literal["udp"]
    from_: str
    to: str
    port: int = 7
    bytes: int = 32
    source: str | None = None
    expect: Outcome = "ok"
    timeout: float = 1.0
    description: str | None = None


@frozen
class HttpProbe:
    name: str
    kind: Literal["http"]
    from_: str
    to: str
    port: int = 80
    path: str = "/"
    status: int = 200
    body: str | None = None
    served_by: tuple[str, ...] = ()
    source: str | None = None
    expect: Outcome = "ok"
    timeout: float = 1.0
    description: str | None = None


@frozen
class ArpProbe:
    name: str
    kind: Literal["arp"]
    from_: str
    to: str
    interface: str | None = None
    source: str | None = None
    answers: int | None = None
    answered_by: tuple[str, ...] = ()
    timeout: float = 0.2
    description: str | None = None


@frozen
class CaptureProbe:
    name: str
    kind: Literal["capture"]
    during: str
    at: tuple[str, ...]
    packets: Amount
    filter: str | None = None
    match: dict[str, str | int] = field(default_factory=dict)
    direction: Literal["in", "out", "both"] = "both"
    settle: float = 0.02
    timeout: float = 2.0
    description: str | None = None


@frozen
class DistributionProbe:
    name: str
    kind: Literal["distribution"]
    from_: str
    to: tuple[str, ...]
    port: int = 80
    path: str = "/"
    requests: int = 30
    sources: tuple[str, ...] = ()
    shares: dict[str, float] = field(default_factory=dict)
    tolerance: float = 0.1
    sticky: bool | Literal["source", "destination"] = False
    servers: Amount | None = None
    hold: int = 0
    timeout: float = 1.0
    description: str | None = None


@frozen
class IpvsCounter:
    service: str
    dest: str | None = None
    direction: Literal["in", "out"] = "in"


@frozen
class CountersProbe:
    name: str
    kind: Literal["counters"]
    node: str
    during: str
    ipvs: IpvsCounter | None = None
    interface: str | None = None
    counter: LinkCounter = "tx_packets"
    table: str = "filter"
    chain: str | None = None
    rule: str | None = None
    family: Literal[4, 6] = 4
    packets: Amount | None = None
    bytes: Amount | None = None
    connections: Amount | None = None
    description: str | None = None


@frozen
class SysctlProbe:
    name: str
    kind: Literal["sysctl"]
    node: str
    key: str
    value: int | str
    description: str | None = None


@frozen
class StateProbe:
    name: str
    kind: Literal["state"]
    node: str
    command: str
    exit: int | None = 0
    output: str | None = None
    contains: str | None = None
    absent: str | None = None
    timeout: float = 5.0
    description: str | None = None


@frozen
class FlowCheck:
    metric: FlowMetric
    flow: str | None = None
    over: str | None = None
    min: float | None = None
    max: float | None = None
    why: str | None = None


@frozen
class FlowProbe:
    name: str
    kind: Literal["flow"]
    from_: str
    to: str
    port: int = 9
    congestion: tuple[str, ...] = ()
    together: bool = False
    seconds: float = 10.0
    warmup: float = 2.0
    interval: float = 0.1
    gap: float = 1.0
    queue: str | None = None
    checks: tuple[FlowCheck, ...] = ()
    timeout: float = 2.0
    description: str | None = None


AnyProbe = (PingProbe | TcpProbe | UdpProbe | HttpProbe | ArpProbe | CaptureProbe | DistributionProbe
            | CountersProbe | SysctlProbe | StateProbe | FlowProbe)
SPECS: Mapping[str, type[AnyProbe]] = {
    "ping": PingProbe, "tcp": TcpProbe, "udp": UdpProbe, "http": HttpProbe, "arp": ArpProbe,
    "capture": CaptureProbe, "distribution": DistributionProbe, "counters": CountersProbe, "sysctl": SysctlProbe,
    "state": StateProbe, "flow": FlowProbe}
"""Each kind's record, by the ``kind`` the state spells."""
PROBE_KINDS: tuple[str, ...] = tuple(SPECS)
"""Every kind, in the order the reference lists them."""


def probe_from_data(data: object, path: str = "probe") -> AnyProbe:
    """A recorded probe (as the model dumped it: ``from`` for ``from_``) read back; raises CodecError."""
    if not isinstance(data, dict):
        raise CodecError(f"{path}: expected an object, got {type(data).__name__}")
    kind = data.get("kind")
    spec = SPECS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise CodecError(f"{path}.kind: {kind!r} is not one of {', '.join(SPECS)}")
    return from_data(spec, {("from_" if key == "from" else key): value for key, value in data.items()}, path)
