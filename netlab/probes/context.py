"""What a probe needs to know about the lab that is up, and the runner interface the kinds call back.

Probes run against the *recorded* lab (its state file), not the topology file on disk: the file may
have changed or gone since ``up``, and a probe must test exactly what was built.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Protocol

from netlab.core.codec import CodecError
from netlab.core.frozen import frozen
from netlab.errors import InvalidInput
from netlab.naming import derived_mac
from netlab.probes.nsfork import Reaper
from netlab.probes.packets import LINKTYPE_LINUX_SLL, PacketSocket
from netlab.probes.result import Capture, ProbeResult
from netlab.probes.spec import AnyProbe, probe_from_data

if TYPE_CHECKING:
    from netlab.model.resolved import ResolvedLab


@frozen
class NodeView:
    """A node as recorded: its namespace and its interfaces with their addresses."""

    name: str
    netns: str
    interfaces: tuple[tuple[str, tuple[str, ...]], ...]
    """(interface name, addresses with prefix) in creation order; ``lo`` with the loopback addresses last."""

    def interface_for(self, target: str) -> tuple[str, str] | None:
        """(interface, its address) on the subnet that contains ``target``, or None."""
        ip = ipaddress.ip_address(target)
        for name, addresses in self.interfaces:
            for text in addresses:
                iface = ipaddress.ip_interface(text)
                if iface.version == ip.version and ip in iface.network and iface.network.prefixlen < \
                        iface.network.max_prefixlen:
                    return name, str(iface.ip)
        return None

    def first_ipv4(self, ifname: str) -> str | None:
        for name, addresses in self.interfaces:
            if name == ifname:
                for text in addresses:
                    iface = ipaddress.ip_interface(text)
                    if iface.version == 4:
                        return str(iface.ip)
        return None


@frozen
class IpvsServiceView:
    """An IPVS virtual service as recorded: how to find it (and its real servers) in the director's table."""

    name: str
    director: str
    protocol: str
    vip: str | None
    port: int
    fwmark: int | None
    dests: tuple[tuple[str, str, int], ...]
    """(node, address, port) of each real server."""


@frozen
class LabView:
    """The lab as recorded by ``up``: nodes, namespaces, the declared probes and the IPVS services."""

    lab: str
    nodes: Mapping[str, NodeView]
    probes: Mapping[str, AnyProbe]
    """In declaration order."""
    ipvs: Mapping[str, IpvsServiceView] = field(default_factory=dict)
    """By service name."""
    segments: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(node, interface) → the link or LAN it is on (``links[0]``, ``lans.servers``): the path recorder joins
    a frame sent on one end to the same frame received on the other (:mod:`netlab.probes.path`)."""
    elsewhere: Mapping[str, str] = field(default_factory=dict)
    """MAC → ``node:interface`` of the link ends on other hosts (a lab spread over hosts: their MACs are derived,
    netlab.naming.derived_mac), for naming who answered from there."""

    def netns(self, node: str) -> str:
        try:
            return self.nodes[node].netns
        except KeyError:
            raise InvalidInput(message=f"lab {self.lab} has no node {node!r}") from None

    @staticmethod
    def from_resolved(resolved: ResolvedLab, here: frozenset[str] | None = None) -> LabView:
        """From the resolved lab a state file recorded (typed: netlab.stages.record decodes it). ``here``: the
        namespaces on this machine when it holds one host's part of the lab (netlab.multihost); the nodes of
        the other hosts are not in the view (their traffic is reached by address, as from outside)."""
        from netlab.features.manifest import hooks

        extra = [hook for _, hook in hooks("interfaces")]  # tunnels, sub-interfaces, bridges

        nodes = {}
        segments = {(node.name, i.name): i.segment for node in resolved.nodes for i in node.interfaces}
        elsewhere: dict[str, str] = {}
        for node in resolved.nodes:
            if here is not None and node.netns not in here:
                elsewhere |= {derived_mac(resolved.name, node.netns, i.name): f"{node.name}:{i.name}"
                              for i in node.interfaces}
                continue
            ifaces = [(i.name, i.addresses) for i in node.interfaces]
            for hook in extra:
                ifaces += hook(resolved, node.name)
            ifaces.append(("lo", node.loopback))
            nodes[node.name] = NodeView(node.name, node.netns, tuple(ifaces))
        probes: dict[str, AnyProbe] = {}
        for i, raw_probe in enumerate(resolved.probes):
            try:  # as the model dumped it at up: read back strictly, without pydantic (netlab.probes.spec)
                probe = probe_from_data(raw_probe, f"probes[{i}]")
            except CodecError as exc:
                raise InvalidInput(message=f"lab {resolved.name}: a recorded probe does not read back ({exc})\n"
                                           "    hint: netlab up --recreate the lab with this version of netlab"
                                   ) from None
            probes[probe.name] = probe
        ipvs = {svc.name: IpvsServiceView(svc.name, svc.director, svc.protocol, svc.vip, svc.port, svc.fwmark,
                                          tuple((d.node, d.address, d.port) for d in svc.dests))
                for svc in resolved.ipvs}
        return LabView(resolved.name, nodes, probes, ipvs, segments, elsewhere)


class Context(Protocol):
    """What a probe kind may ask of the runner."""

    @property
    def view(self) -> LabView: ...

    @property
    def reaper(self) -> Reaper:
        """Collects the probe children that have answered (see :class:`netlab.probes.nsfork.Reaper`)."""
        ...

    def run_probe(self, probe: AnyProbe) -> ProbeResult:
        """Run another probe (the one a capture or counters probe runs ``during``)."""
        ...


def sender_capture() -> PacketSocket:
    """Every packet of every interface of the current namespace, cooked, for the probe's pcap."""
    return PacketSocket(None, raw=False)


def capture_of(label: str, sock: PacketSocket) -> Capture:
    """What the sender capture saw; its socket is left for the child's exit to close (see leave_open)."""
    sock.read_ready()
    sock.leave_open()
    return Capture(label, LINKTYPE_LINUX_SLL, tuple(sock.frames))


def failed(probe: AnyProbe, expected: str, observed: str, captures: tuple[Capture, ...] = ()) -> ProbeResult:
    """A probe that could not run as declared: counts as failed, says why."""
    return ProbeResult(probe.name, probe.kind, False, expected, observed, 0.0, error=True, captures=captures)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
