"""The observed path of a probe: which node interfaces saw its request and its reply, in order, and the hops
between them. Pure (no kernel): the recorder (:mod:`.recorder`) hands in frames, ``netlab graph
--path`` reads the record back.

How a hop is found, from observation only: a frame one node sent on an interface (``out``) and the same
frame, byte for byte, that another node received (``in``) right after are one hop. Byte for byte because a
veth pair and a LAN bridge hand a frame over unchanged, while every router changes it (TTL, MACs) and every
director too (DR rewrites the destination MAC, NAT the address): so the director's outgoing copy of a
request is never mistaken for the router's. Where the lab's wiring is known (links and LANs) both ends must
be on the same segment; interfaces features make (tunnels, sub-interfaces) rely on the bytes alone.
A broadcast (ARP who-has) reaches every receiver of its segment (sent into a tunnel, only the far end). A
frame a node received although it was addressed to another MAC counts only if the node sent it on unchanged
(a bridge in the node forwarded it): otherwise it was a flooded copy the node dropped, not a hop.

Which packets belong to the probe is decided by the innermost packet (through IPIP, GRE and VXLAN, by
:mod:`.dissect`): ICMP echo request/reply for ``ping``, ARP who-has/is-at for the asked address for
``arp``; for TCP and UDP the client's ports as seen in the ``from`` node (so NAT on the way does not hide
a packet), else the service port. An ICMP error quoting a request is part of the reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from typing import Any

from netlab.core.frozen import frozen
from netlab.probes.dissect import Dissected, Flow, dissect

FORMAT = 1
PACKET_OTHERHOST = 3
SKEW = 0.002
"""Seconds a receiver's timestamp may precede the sender's (both are the kernel's clock, taken per packet)."""
BROADCAST_WINDOW = 0.5
"""Seconds within which the receivers of one broadcast frame are looked for."""
MAX_OBSERVATIONS = 5000
"""Per probe, so that a distribution probe of 10,000 requests does not write megabytes."""


@frozen
class Target:
    """What the recorder must know of a traffic probe to pick its packets out of everything it saw."""

    name: str
    kind: str
    from_: str
    to: tuple[str, ...]
    port: int | None = None


@frozen
class Captured:
    """One frame as the recorder saw it on a node's interface (the parts of ``packets.Frame`` it needs)."""

    node: str
    time: float
    ifname: str
    outgoing: bool
    pkttype: int
    hatype: int
    data: bytes


@frozen
class Observation:
    """A packet of the probe seen on one node interface."""

    t: float
    """Seconds since the probe's first packet."""
    node: str
    interface: str
    direction: str
    """``in`` (received) or ``out`` (sent)."""
    role: str
    """``request`` or ``reply``."""
    packet: str
    """The packet in one line (:attr:`.dissect.Dissected.summary`)."""


@frozen
class Hop:
    """A packet of the probe crossing from one node interface to another."""

    t: float
    role: str
    from_node: str
    from_interface: str
    to_node: str
    to_interface: str
    packet: str


@frozen
class ProbePath:
    """What the recorder saw of one probe run."""

    probe: str
    kind: str
    from_: str
    to: tuple[str, ...]
    passed: bool
    observations: tuple[Observation, ...] = ()
    hops: tuple[Hop, ...] = ()
    truncated: bool = False

    def edges(self, role: str) -> list[tuple[str, str]]:
        """(from node, to node) of every hop of ``role``, each once, in the order first crossed."""
        return list(dict.fromkeys((h.from_node, h.to_node) for h in self.hops if h.role == role))

    def to_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "kind": self.kind, "from": self.from_, "to": list(self.to),
                "passed": self.passed, "truncated": self.truncated,
                "observations": [[o.t, o.node, o.interface, o.direction, o.role, o.packet] for o in self.observations],
                "hops": [[h.t, h.role, h.from_node, h.from_interface, h.to_node, h.to_interface, h.packet]
                         for h in self.hops]}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ProbePath:
        return ProbePath(str(data["probe"]), str(data["kind"]), str(data["from"]), tuple(map(str, data["to"])),
                         bool(data["passed"]),
                         tuple(Observation(float(t), str(n), str(i), str(d), str(r), str(p))
                               for t, n, i, d, r, p in data["observations"]),
                         tuple(Hop(float(t), str(r), str(fn), str(fi), str(tn), str(ti), str(p))
                               for t, r, fn, fi, tn, ti, p in data["hops"]),
                         bool(data.get("truncated", False)))


@frozen
class PathRecord:
    """The observed paths of one probe run of a lab (``<run dir>/logs/<lab>/path.json``)."""

    lab: str
    recorded: str
    """When, in UTC (ISO 8601)."""
    paths: tuple[ProbePath, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "lab": self.lab, "recorded": self.recorded,
                           "probes": [p.to_dict() for p in self.paths]}, separators=(",", ":")) + "\n"

    @staticmethod
    def from_json(text: str) -> PathRecord:
        """The record; ValueError (with the reason) for anything that is not one of this format."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a netlab path record of format {FORMAT}")
            return PathRecord(str(data["lab"]), str(data["recorded"]),
                              tuple(ProbePath.from_dict(p) for p in data["probes"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a netlab path record: {exc}") from None


# ------------------------------------------------------------------------------------------ from frames

def _role(flow: Flow | None, target: Target, client_ports: set[int]) -> str | None:
    """``request``, ``reply`` or None (not the probe's) for a frame's innermost packet."""
    if flow is None:
        return None
    if flow.quoted is not None:  # an ICMP error about one of the probe's requests travels back
        return "reply" if _role(flow.quoted, target, client_ports) == "request" else None
    if target.kind == "ping":
        if flow.proto not in ("icmp", "icmp6") or flow.kind is None:
            return None
        return {8: "request", 128: "request", 0: "reply", 129: "reply"}.get(flow.kind)
    if target.kind == "arp":
        if flow.proto != "arp":
            return None
        if flow.kind == 1 and flow.dst in target.to:
            return "request"
        return "reply" if flow.kind == 2 and flow.src in target.to else None
    if flow.proto != ("udp" if target.kind == "udp" else "tcp"):
        return None
    if flow.sport in client_ports:
        return "request"
    if flow.dport in client_ports:
        return "reply"
    if target.port is not None and flow.dport == target.port:
        return "request"
    return "reply" if target.port is not None and flow.sport == target.port else None


def _client_ports(frames: Sequence[tuple[Captured, Dissected]], target: Target) -> set[int]:
    """The source ports the probe's client used: its outgoing packets to the target, in its own node."""
    ports = set()
    for frame, dis in frames:
        flow = dis.flow
        if (frame.node == target.from_ and frame.outgoing and flow is not None and flow.sport is not None
                and flow.dst in target.to and flow.dport == target.port):
            ports.add(flow.sport)
    return ports


Seen = tuple[Captured, Dissected, str]


def _pairs(mine: Sequence[Seen], segments: Mapping[tuple[str, str], str]) -> list[tuple[int, int]]:
    """(sender, receiver) indexes of every hop: an ``out`` frame and the first identical ``in`` frames of other
    nodes on its segment (every receiver of a broadcast, one of anything else)."""
    receivers: dict[bytes, list[int]] = {}
    for i, (f, _d, _r) in enumerate(mine):
        if not f.outgoing:
            receivers.setdefault(f.data, []).append(i)
    taken: set[int] = set()
    pairs = []
    for j, (f, d, _role) in enumerate(mine):
        if not f.outgoing:
            continue
        where = segments.get((f.node, f.ifname))
        # a broadcast on a known segment reaches its members (all known); one sent into a tunnel, its far end
        every = d.broadcast and where is not None
        chosen: dict[str, int] = {}
        for i in receivers.get(f.data, ()):
            g = mine[i][0]
            if g.time > f.time + BROADCAST_WINDOW:
                break
            there = segments.get((g.node, g.ifname))
            if (i in taken or g.node == f.node or g.node in chosen or g.time < f.time - SKEW
                    or (where is not None and there is not None and where != there) or (every and there is None)):
                continue
            chosen[g.node] = i
            if not every:
                break
        taken.update(chosen.values())
        pairs += [(j, i) for i in chosen.values()]
    return pairs


def _causal(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Indexes 0..n-1 in time order, except that a receiver stamped before its sender (within the skew, or
    in the same microsecond) is moved right after it."""
    order = list(range(n))
    position = list(range(n))
    for j, i in sorted(pairs):
        if position[i] < position[j]:  # rare: a linear move, then the positions again
            order.remove(i)
            order.insert(order.index(j) + 1, i)
            position = [0] * n
            for at, k in enumerate(order):
                position[k] = at
    return order


def observe(target: Target, passed: bool, frames: Iterable[Captured],
            segments: Mapping[tuple[str, str], str] | None = None) -> ProbePath:
    """The probe's observations and hops, from every frame the recorder captured while it ran.

    ``segments``: (node, interface) → the link or LAN it is on, where known (see the module docstring).
    """
    segments = segments or {}
    frames = [f for f in frames if f.ifname != "lo"]
    forwarded = {(f.node, f.data) for f in frames if f.outgoing}
    dissected: dict[tuple[bytes, int], Dissected] = {}  # a frame is seen at both ends of a hop: dissect it once
    seen = []
    for f in frames:
        if f.outgoing or f.pkttype != PACKET_OTHERHOST or (f.node, f.data) in forwarded:
            d = dissected.get((f.data, f.hatype))
            if d is None:
                d = dissected[(f.data, f.hatype)] = dissect(f.data, f.hatype)
            seen.append((f, d))
    seen.sort(key=lambda fd: fd[0].time)
    ports = _client_ports(seen, target)
    mine = [(f, d, role) for f, d in seen if (role := _role(d.flow, target, ports)) is not None]
    truncated = len(mine) > MAX_OBSERVATIONS
    mine = mine[:MAX_OBSERVATIONS]
    pairs = _pairs(mine, segments)
    order = _causal(len(mine), pairs)
    start = mine[0][0].time if mine else 0.0
    when: dict[int, float] = {}
    for j, i in pairs:  # a receiver is never before its sender (their stamps may tie, or differ by the skew)
        when[i] = max(mine[i][0].time, mine[j][0].time)
    observations = tuple(Observation(round(when.get(k, f.time) - start, 6), f.node, f.ifname,
                                     "out" if f.outgoing else "in", role, d.summary)
                         for k in order for f, d, role in (mine[k],))
    hops = sorted((Hop(round(mine[j][0].time - start, 6), mine[j][2], mine[j][0].node, mine[j][0].ifname,
                       mine[i][0].node, mine[i][0].ifname, mine[j][1].summary) for j, i in pairs), key=lambda h: h.t)
    return ProbePath(target.name, target.kind, target.from_, target.to, passed, observations, tuple(hops), truncated)
