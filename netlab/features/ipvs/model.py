"""The ``ipvs:`` section of a topology: virtual services and their real servers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["nat", "dr", "tun"]
Scheduler = Literal["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RealServer(_Model):
    """A real server behind a virtual service."""

    node: str
    """The node that serves."""
    address: str | None = None
    """The real server's address as the director reaches it. Default: the node's address in a subnet it
    shares with the director, else its first interface address (tun mode across a router)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Port on the real server. Default: the service's port. Only NAT can change it (DR and TUN deliver
    the packet unchanged)."""
    weight: int = Field(default=1, ge=0, le=65535)
    """Scheduler weight (wrr, wlc, …); 0 takes the server out of rotation without removing it."""
    mode: Mode | None = None
    """Forwarding method for this server; default: the service's ``mode``."""


class VirtualService(_Model):
    """A virtual service: what clients connect to, on the director."""

    name: str | None = None
    """A label for status and probes (default: ``<vip>:<port>/<protocol>``)."""
    director: str
    """The node running IPVS."""
    vip: str | None = None
    """The virtual IP clients connect to (required unless ``fwmark`` is given)."""
    port: int | None = Field(default=None, ge=0, le=65535)
    """Virtual port (required with ``vip``; 0 with persistence means every port)."""
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    """Transport protocol of the service."""
    fwmark: int | None = Field(default=None, ge=1)
    """Firewall-mark service instead of vip:port (the mark is set by an iptables rule)."""
    scheduler: Scheduler = "wlc"
    """Scheduling algorithm (the kernel module ``ip_vs_<scheduler>``)."""
    persistence: int | None = Field(default=None, ge=1)
    """Seconds a client keeps going to the same real server (``ipvsadm -p``)."""
    flags: tuple[Literal["sh-fallback", "sh-port", "onepacket"], ...] = ()
    """Scheduler flags: ``sh-fallback``/``sh-port`` for sh, ``onepacket`` for UDP."""
    mode: Mode = "nat"
    """Default forwarding method of the real servers."""
    vip_interface: str | None = None
    """Where the director holds the VIP. Default: the interface whose subnet contains the VIP (so the
    director answers ARP for it), else ``lo`` as a /32."""
    real_servers: tuple[RealServer, ...]
    """The servers behind the VIP."""
