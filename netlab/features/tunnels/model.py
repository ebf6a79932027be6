"""The topology keys for tunnels, sub-interfaces and bridges inside a node (shape only).

Why a tunnel is a top-level list with two ends (``a``/``b``), like a link: a tunnel is a
point-to-point link whose "wire" is the underlay, and both ends must agree (key, VNI, port, each
end's ``local`` is the other's ``remote``). Writing it once means they cannot disagree.

Why sub-interfaces are declared on the node that *gets* them, with ``parent: NODE:IFNAME``: what a
learner reads under ``h1:`` is "h1 has mv0, a macvlan of host's eth0" -- the interface's owner, its
address and its mode in one place -- and the parent (an interface inside the lab, never the machine's
own eth0) is named the way probes name interfaces (``at: host:eth0``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _one_or_many(value: object) -> object:
    """``address: 10.0.0.1/24`` as well as a list, as for links (the topology's AddressList)."""
    if isinstance(value, str):
        return [value]
    return value


AddressList = Annotated[tuple[str, ...], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]
TunnelKind = Literal["gre", "gretap", "ipip", "sit", "vxlan"]
SubKind = Literal["macvlan", "ipvlan"]
MACVLAN_MODES = ("private", "vepa", "bridge", "passthru")
IPVLAN_MODES = ("l2", "l3", "l3s")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TunnelEnd(_Model):
    """One end of a tunnel: the node that encapsulates, its underlay address and the tunnel interface."""

    node: str
    """The node running this end (it encapsulates and decapsulates)."""
    local: str | None = None
    """This end's underlay address (the outer source; the other end's outer destination). Default: the
    node's only IPv4 address (interfaces and loopback); required when it has several."""
    interface: str | None = None
    """The tunnel interface's name in the node (≤ 15 bytes). Default: ``gre1``, ``gretap1``, ``ipip1``,
    ``sit1``, ``vxlan1`` (``gre0``, ``gretap0``, ``tunl0``, ``sit0`` are the kernel's fallback devices, present
    in every namespace)."""
    address: AddressList = ()
    """Inner address(es) with prefix on the tunnel interface, e.g. ``192.168.100.1/30``."""


class Tunnel(_Model):
    """A GRE, IPIP or VXLAN tunnel between two nodes across the lab's underlay."""

    name: str | None = None
    """A label for messages (default: ``tunnels[N]``)."""
    description: str | None = None
    """What this tunnel is for."""
    kind: TunnelKind
    """``gre`` (IP proto 47: carries IPv4, IPv6, anything routed; no ARP), ``gretap`` (GRE carrying Ethernet
    frames: ARP and broadcasts cross, it can be bridged), ``ipip`` (IP proto 4: IPv4 only), ``sit`` (IP proto 41:
    IPv6 in IPv4, IPv6 only) or ``vxlan`` (Ethernet frames in UDP, port 4789)."""
    a: TunnelEnd
    """First end."""
    b: TunnelEnd
    """Second end."""
    key: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    """GRE key (both directions); ``gre`` and ``gretap`` only."""
    vni: int | None = Field(default=None, ge=0, le=0xFFFFFF)
    """VXLAN network identifier; required for ``vxlan``, VXLAN only."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """VXLAN UDP destination port (default 4789, the IANA port; the kernel's own default is 8472)."""
    ttl: int | None = Field(default=None, ge=1, le=255)
    """TTL of the outer header (default: the kernel's: inherit from the inner packet)."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """MTU of both tunnel interfaces (default: the kernel's: 1476 gre, 1462 gretap, 1480 ipip and sit
    on a 1500-byte underlay; 1500 vxlan, which has no lower device to subtract its 50 bytes from)."""


class SubInterface(_Model):
    """A macvlan or ipvlan interface of this node on a parent interface inside the lab."""

    kind: SubKind
    """``macvlan`` (its own MAC) or ``ipvlan`` (shares the parent's MAC; the kernel tells the slaves apart
    by IP address)."""
    parent: str
    """The parent interface: ``NODE:IFNAME`` (another node's link or LAN interface), or ``IFNAME`` of this node."""
    name: str | None = None
    """Interface name in this node. Default: ``mv0``, ``mv1`` … (macvlan), ``ipvl0`` … (ipvlan)."""
    mode: str | None = None
    """macvlan: ``bridge`` (default: sub-interfaces of one parent talk directly), ``private`` (they cannot),
    ``vepa`` (via the external switch), ``passthru``. ipvlan: ``l2`` (default), ``l3``, ``l3s``."""
    address: AddressList = ()
    """Address(es) with prefix."""
    mac: str | None = None
    """Fixed MAC (macvlan only: an ipvlan always has its parent's)."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """MTU (at most the parent's)."""


class NodeBridge(_Model):
    """A Linux bridge inside a node, over some of its interfaces (e.g. a VXLAN VTEP's bridge)."""

    members: tuple[str, ...]
    """Interfaces of this node enslaved to the bridge: link or LAN ends, tunnel or sub-interfaces."""
    hairpin: tuple[str, ...] = ()
    """Members with hairpin mode on: the bridge may send a frame back out of the port it came in on. A VEPA
    neighbour needs it (reflective relay), and Docker sets it on container ports with --userland-proxy=false:
    with br_netfilter, a container's DNATed connection to its own published port is bridged back to it."""
    address: AddressList = ()
    """Address(es) on the bridge itself."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """Bridge MTU (default: the kernel's: the smallest of its ports)."""
    description: str | None = None
    """What this bridge is for."""
