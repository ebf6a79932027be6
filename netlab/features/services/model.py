"""The ``services:`` list of a node, as typed frozen models, and the resolved form plan and apply use.

Only pydantic is imported here: :mod:`netlab.model.topology` imports this module, and ``netlab
validate`` must stay fast.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from netlab.features.services.spec import ServiceSpec

Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    """Frozen, no unknown keys, field docs become JSON Schema descriptions (as in the topology)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Service(_Model):
    name: str | None = None
    """Name of the service, unique within its node (default: its kind). Names its log file
    (``/run/netlab/logs/<lab>/<node>.<name>.log``)."""
    address: str | None = None
    """Address to listen on (default: every address of the node, ``0.0.0.0``; ``::`` for IPv6). It may be
    an address the node does not own (an IPVS virtual IP): the socket is bound with ``IP_FREEBIND``."""


class TcpEchoService(_Service):
    """TCP echo: every byte a client sends comes back on the same connection, until the client closes."""

    kind: Literal["tcp-echo"]
    """``tcp-echo``."""
    port: Port = 7
    """TCP port (default 7, the echo port)."""


class UdpEchoService(_Service):
    """UDP echo: each datagram is sent back to its sender, from the address it was sent to."""

    kind: Literal["udp-echo"]
    """``udp-echo``."""
    port: Port = 7
    """UDP port (default 7, the echo port)."""


class DiscardService(_Service):
    """TCP discard (RFC 863): reads everything a client sends and throws it away -- the receiver of a bulk
    ``flow`` probe, which measures how fast the network, not the receiving program, takes the data."""

    kind: Literal["discard"]
    """``discard``."""
    port: Port = 9
    """TCP port (default 9, the discard port)."""


class HttpService(_Service):
    """HTTP: answers every GET with status 200, the header ``X-Netlab-Node: <node>`` and a body naming the
    node, so a probe can tell which real server answered."""

    kind: Literal["http"]
    """``http``."""
    port: Port = 80
    """TCP port (default 80)."""
    body: str | None = None
    """Body of every answer (default: the node's name and a newline)."""


AnyService = TcpEchoService | UdpEchoService | DiscardService | HttpService
Service = Annotated[AnyService, Field(discriminator="kind")]
SERVICE_KINDS: tuple[str, ...] = ("tcp-echo", "udp-echo", "discard", "http")


def service_name(service: AnyService) -> str:
    """The name a service goes by: its own, or its kind."""
    return service.name or service.kind


def service_protocol(kind: str) -> str:
    """``tcp`` or ``udp``: what the service listens with (two services may share a port across protocols)."""
    return "udp" if kind == "udp-echo" else "tcp"


def spec_of(node: str, service: AnyService) -> ServiceSpec:
    """The resolved form of ``service`` in ``node``: every default filled in."""
    body = service.body if isinstance(service, HttpService) and service.body is not None else f"{node}\n"
    address = service.address or "0.0.0.0"
    return ServiceSpec(node=node, name=service_name(service), kind=service.kind,
                       protocol=service_protocol(service.kind), address=address, port=service.port,
                       body=body if service.kind == "http" else "")
