"""The ``stitches:`` key of a topology (shape only): node interfaces whose other end is on another machine."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

VXLAN_PORT = 4789
STITCH_OVERHEAD = 50
"""Bytes VXLAN adds over IPv4 (outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14): a stitch's default MTU is the
underlay's minus this, so a full-size inner packet is never fragmented outside."""


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


AddressList = Annotated[tuple[str, ...], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]


class Stitch(BaseModel):
    """A node's interface that is one end of a link to a node on another machine (VXLAN over that machine's
    network, from the host's own namespace)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    """The node that gets the interface."""
    interface: str
    """Its name in the node (``eth0``)."""
    address: AddressList = ()
    """Address(es) with prefix, as on a link end."""
    mac: str | None = None
    """Fixed MAC (netlab.multihost gives each stitch one derived from lab, node and interface: unique across
    hosts, stable across runs)."""
    mtu: int | None = Field(default=None, ge=68, le=65535)
    """MTU of the interface (default 1450: a 1500-byte underlay less VXLAN's 50 bytes)."""
    vni: int = Field(ge=1, le=0xFFFFFF)
    """VXLAN network identifier: the same at both ends, unique among the stitches between two hosts."""
    local: str
    """This machine's underlay address (the outer source)."""
    remote: str
    """The other machine's underlay address (the outer destination)."""
    port: int = Field(default=VXLAN_PORT, ge=1, le=65535)
    """UDP port at both ends (default 4789, IANA's)."""
    description: str | None = None
    """What the other end is (``rs1:eth0 on host h2``)."""
