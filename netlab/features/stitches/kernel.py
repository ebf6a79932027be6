"""Create stitches: one RTM_NEWLINK per stitch, sent on a netlink socket of the namespace netlab runs in.

Why not through apply's per-namespace batches: those sockets live in the lab's namespaces, and a VXLAN device
opens its UDP socket in the namespace the request came from. Sent from the host's namespace with IFLA_NET_NS_FD
naming the node's, the device is born in the node with its socket on the host's network -- what ``ip link add
eth0 netns NODE type vxlan ...`` run on the host does.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from netlab.errors import ApplyError
from netlab.kernel.netlink import (
    IFLA_ADDRESS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MTU,
    IFLA_NET_NS_FD,
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTM_NEWLINK,
    RtnlSocket,
    ifinfo,
    nla,
    nla_ip,
    nla_mac,
    nla_nested,
    nla_str,
    nla_u32,
)
from netlab.kernel.rtnl import IFLA_VXLAN_GROUP, IFLA_VXLAN_ID, IFLA_VXLAN_LOCAL, IFLA_VXLAN_PORT
from netlab.model.plan import CreateStitch

if TYPE_CHECKING:  # an annotation: down, clean and up of a cached plan need no feature table
    from netlab.features.base import Executor


def message(action: CreateStitch, netns_fd: int) -> tuple[bytes, int, int]:
    data = (nla_u32(IFLA_VXLAN_ID, action.vni) + nla_ip(IFLA_VXLAN_GROUP, action.remote)
            + nla_ip(IFLA_VXLAN_LOCAL, action.local) + nla(IFLA_VXLAN_PORT, struct.pack(">H", action.port)))
    attrs = nla_str(IFLA_IFNAME, action.name) + nla_u32(IFLA_NET_NS_FD, netns_fd) + nla_u32(IFLA_MTU, action.mtu)
    if action.mac:
        attrs += nla_mac(IFLA_ADDRESS, action.mac)
    attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, "vxlan"), nla_nested(IFLA_INFO_DATA, data))
    return ifinfo(action.index, attrs=attrs), RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL


def apply(executor: Executor, actions: list[CreateStitch]) -> None:
    """Apply's executor: every stitch in one batch from the host's namespace."""
    sock = RtnlSocket()
    try:
        results = sock.request_many([message(a, executor.fd(a.netns)) for a in actions])
    finally:
        sock.close()
    failures = [f"`{a.describe()}`: {r.describe()}" for a, r in zip(actions, results, strict=True) if not r.ok]
    if failures:
        raise ApplyError("the kernel refused:\n  " + "\n  ".join(failures))
