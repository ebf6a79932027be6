"""A namespace's links and addresses as the kernel dumps them (``ip link``, ``ip addr``), decoded with struct.

Why not pyroute2's ifinfmsg/ifaddrmsg, which ``netlab status`` used: importing them imports the pyroute2
package, and with it NDB, IPDB, conntrack and asyncio (≈ 0.2 s of a 0.6 s ``status``), to read a dozen
attributes whose layout <linux/if_link.h> and <linux/if_addr.h> fix. Values are given as pyroute2 gave
them (operstate by name, MACs as lower-case hex pairs, tunnel addresses as text, keys and ports as numbers),
so ``status`` shows the same.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import field

from netlab.core.frozen import frozen
from netlab.kernel.netlink import _IFADDRMSG as IFADDRMSG
from netlab.kernel.netlink import _IFINFOMSG as IFINFOMSG
from netlab.kernel.netlink import (
    IFA_ADDRESS,
    IFA_LOCAL,
    IFLA_ADDRESS,
    IFLA_IFALIAS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MTU,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_NEWLINK,
    RtnlSocket,
    attributes,
    ifaddr,
    ifinfo,
)
from netlab.kernel.rtnl import RTM_NEWADDR

IFLA_OPERSTATE = 16
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
"""IF_OPER_* of <linux/if.h>, by value (the names ``ip link`` and pyroute2 print)."""


@frozen
class Link:
    """One interface of ``RTM_GETLINK``'s dump."""

    index: int
    name: str
    state: str
    mac: str
    """Lower-case hex pairs of IFLA_ADDRESS, whatever its length (a tunnel's is its IPv4 address); "" if none."""
    mtu: int
    alias: str
    kind: str | None
    """IFLA_INFO_KIND (``veth``, ``bridge``, ``vxlan``…), None for a device without one (``lo``)."""
    data: dict[int, bytes] = field(default_factory=dict)
    """IFLA_INFO_DATA's attributes by type: the kind's own parameters (a VXLAN's VNI, a GRE's key)."""


@frozen
class Address:
    """One address of ``RTM_GETADDR``'s dump."""

    index: int
    family: int
    prefixlen: int
    address: str
    """IFA_LOCAL where there is one (the interface's own end of a point-to-point address), else IFA_ADDRESS."""


def _text(raw: bytes | None) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw is not None else ""


def ip_text(raw: bytes) -> str:
    """An address attribute as text: 4 bytes IPv4, 16 bytes IPv6, anything else as hex pairs."""
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return ":".join(f"{b:02x}" for b in raw)


def decode_link(body: bytes) -> Link:
    """An RTM_NEWLINK message (after the netlink header)."""
    _family, _type, index, _flags, _change = IFINFOMSG.unpack_from(body, 0)
    attrs = attributes(body, IFINFOMSG.size, len(body))
    info = attributes(attrs[IFLA_LINKINFO], 0, len(attrs[IFLA_LINKINFO])) if IFLA_LINKINFO in attrs else {}
    data = attributes(info[IFLA_INFO_DATA], 0, len(info[IFLA_INFO_DATA])) if IFLA_INFO_DATA in info else {}
    oper = attrs.get(IFLA_OPERSTATE, b"\0")[0]
    mtu = attrs.get(IFLA_MTU)
    return Link(index=index, name=_text(attrs.get(IFLA_IFNAME)),
                state=OPERSTATES[oper] if oper < len(OPERSTATES) else "UNKNOWN",
                mac=":".join(f"{b:02x}" for b in attrs.get(IFLA_ADDRESS, b"")),
                mtu=struct.unpack("=I", mtu)[0] if mtu is not None and len(mtu) == 4 else 0,
                alias=_text(attrs.get(IFLA_IFALIAS)), kind=_text(info[IFLA_INFO_KIND]) if IFLA_INFO_KIND in info
                else None, data=data)


def decode_address(body: bytes) -> Address | None:
    """An RTM_NEWADDR message (after the netlink header); None without an address attribute."""
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(body, 0)
    attrs = attributes(body, IFADDRMSG.size, len(body))
    raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
    if raw is None:
        return None
    return Address(index, family, prefixlen, ip_text(raw))


def links(sock: RtnlSocket) -> list[Link]:
    """Every link of the socket's namespace."""
    return [decode_link(body) for mtype, body in sock.dump(ifinfo(), RTM_GETLINK) if mtype == RTM_NEWLINK]


def addresses(sock: RtnlSocket) -> list[Address]:
    """Every address of the socket's namespace (IPv4 and IPv6)."""
    found = [decode_address(body) for mtype, body in sock.dump(ifaddr(0, 0, 0), RTM_GETADDR) if mtype == RTM_NEWADDR]
    return [a for a in found if a is not None]
