"""Read a lab's live state back from the kernel, for ``netlab status``.

What status shows is what the kernel says now (interfaces, their state, MACs, addresses), not what
the topology asked for: a learner who changes things by hand sees the change. Each feature reads back its
own objects through its ``status`` hook (IPVS tables, iptables counters); this module names none.
"""

from __future__ import annotations

import socket
import struct

from netlab.core.codec import to_data
from netlab.core.derived import DerivedSetting
from netlab.core.frozen import frozen
from netlab.features.manifest import StatusPart, hooks
from netlab.kernel import linkdump, rtnl
from netlab.kernel.netlink import RtnlSocket
from netlab.kernel.netns import inside
from netlab.stages.record import LabState


@frozen
class InterfaceStatus:
    name: str
    index: int
    state: str
    mac: str
    mtu: int
    addresses: tuple[str, ...]
    kind: str
    alias: str = ""
    """netlab's tag on interfaces it made (``netlab:<lab>``)."""
    detail: str = ""
    """For a tunnel, what the kernel says it is: ``vxlan 4242 10.0.1.1 → 10.0.2.1:4789``."""

    @property
    def noise(self) -> bool:
        """A device the kernel put in every namespace (``gre0``, ``tunl0``, … once their modules load),
        down and unused: not worth a line in ``status``."""
        return not self.alias and not self.addresses and self.state == "DOWN"


@frozen
class NodeStatus:
    name: str
    kind: str
    netns: str
    present: bool
    description: str
    interfaces: tuple[InterfaceStatus, ...]


def read_interfaces(netns: str) -> tuple[InterfaceStatus, ...] | None:
    """Interfaces of a namespace with addresses, or None if it is gone."""
    with inside(netns) as present:
        if not present:
            return None
        sock = RtnlSocket()  # bound to the namespace it was opened in
    try:
        addrs: dict[int, list[str]] = {}
        for a in linkdump.addresses(sock):
            if a.family == socket.AF_INET6 and a.address.startswith("fe80"):
                continue
            addrs.setdefault(a.index, []).append(f"{a.address}/{a.prefixlen}")
        return tuple(InterfaceStatus(
            name=link.name, index=link.index, state=link.state, mac=link.mac, mtu=link.mtu,
            addresses=tuple(addrs.get(link.index, [])),
            kind=link.kind or ("loopback" if link.index == 1 else "?"), alias=link.alias,
            detail=_tunnel_detail(link)) for link in linkdump.links(sock))
    finally:
        sock.close()


_U32, _BE16, _BE32 = "=I", "!H", "!I"
_TUNNEL_ATTRS: dict[str, tuple[int, int, tuple[int, str] | None, int | None]] = {
    # kind: (local, remote or group, (key or VNI, its format), port) -- IFLA_INFO_DATA attribute types
    "vxlan": (rtnl.IFLA_VXLAN_LOCAL, rtnl.IFLA_VXLAN_GROUP, (rtnl.IFLA_VXLAN_ID, _U32), rtnl.IFLA_VXLAN_PORT),
    "gre": (rtnl.IFLA_GRE_LOCAL, rtnl.IFLA_GRE_REMOTE, (rtnl.IFLA_GRE_OKEY, _BE32), None),
    "gretap": (rtnl.IFLA_GRE_LOCAL, rtnl.IFLA_GRE_REMOTE, (rtnl.IFLA_GRE_OKEY, _BE32), None),
    "ipip": (rtnl.IFLA_IPTUN_LOCAL, rtnl.IFLA_IPTUN_REMOTE, None, None),
    "sit": (rtnl.IFLA_IPTUN_LOCAL, rtnl.IFLA_IPTUN_REMOTE, None, None),
}


def _number(raw: bytes | None, fmt: str) -> int:
    if raw is None or len(raw) != struct.calcsize(fmt):
        return 0
    value: int = struct.unpack(fmt, raw)[0]
    return value


def _tunnel_detail(link: linkdump.Link) -> str:
    """A tunnel's parameters read back from the kernel, so ``status`` shows what really exists."""
    names = _TUNNEL_ATTRS.get(link.kind or "")
    if names is None or not link.data:
        return ""
    local_t, remote_t, ident_t, port_t = names
    local, remote = (linkdump.ip_text(link.data[t]) if t in link.data else None for t in (local_t, remote_t))
    ident = _number(link.data.get(ident_t[0]), ident_t[1]) if ident_t else 0
    port = _number(link.data.get(port_t), _BE16) if port_t else 0
    text = f"{link.kind}"
    if ident:
        text += f" {'key ' if link.kind in ('gre', 'gretap') else ''}{ident}"
    if local or remote:
        text += f" {local or 'any'} → {remote or 'any'}"
    if port:
        text += f":{port}"
    return text


@frozen
class LabStatus:
    """What ``netlab status`` shows of one lab: the recorded lab (typed, from its state) and the kernel now.

    ``--json`` prints ``to_data`` of this, so the fields and their order are the JSON's."""

    lab: str
    status: str
    run: str
    source: str
    description: str
    created: float
    nodes: tuple[NodeStatus, ...]
    derived: tuple[DerivedSetting, ...]
    """Settings netlab derived from the nodes' roles in a feature, each with its reason (from the resolved lab)."""
    features: dict[str, tuple[StatusPart, ...]]
    """Feature name → what it reads back from the kernel, one part per node (IPVS tables, iptables counters)."""
    host: str | None = None
    """The inventory host whose part of the lab this is (a lab spread over hosts, netlab.multihost), or None."""

    def to_json(self) -> dict[str, object]:
        """Plain data for ``--json``: each feature's parts as ``{feature: {node: data}}`` at the top level."""
        data = to_data(self)
        assert isinstance(data, dict)
        del data["features"]
        for name, parts in self.features.items():
            data[name] = {part.node: part.data for part in parts}
        return data


def _node_netns(state: LabState, node: str) -> str | None:
    return next((ns.name for ns in state.namespaces if ns.owner == node and ns.kind == "node"), None)


def lab_status(state: LabState) -> LabStatus:
    resolved = state.resolved
    descriptions = {node.name: node.description for node in resolved.nodes}
    nodes = []
    for ns in state.namespaces:
        ifaces = read_interfaces(ns.name)
        nodes.append(NodeStatus(ns.owner, ns.kind, ns.name, ifaces is not None, descriptions.get(ns.owner, ""),
                                ifaces or ()))
    parts = {name: tuple(sections(resolved, lambda node: _node_netns(state, node)))
             for name, sections in hooks("status")}
    return LabStatus(lab=state.lab, status=state.status, run=state.run, source=state.source,
                     description=resolved.description, created=state.created, nodes=tuple(nodes),
                     derived=tuple(d for node in resolved.nodes for d in node.derived), features=parts,
                     host=state.host)
