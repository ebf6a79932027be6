"""rtnetlink messages for tunnels and sub-interfaces, packed like apply's other messages.

Layouts from the kernel's uapi ``<linux/if_tunnel.h>`` and ``<linux/if_link.h>`` (the numbers are in
:mod:`netlab.kernel.rtnl`, with every other rtnetlink number netlab sends); the attributes and
their byte order are those ``ip link add … type gre|ipip|vxlan|macvlan|ipvlan`` sends (GRE flags and
keys and the VXLAN port are big-endian; the rest host order). Every create is ``NLM_F_EXCL`` with the
index resolve chose, as for veths, so nothing that already exists is ever reused.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

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
    ifinfo,
    nla,
    nla_ip,
    nla_mac,
    nla_nested,
    nla_str,
    nla_u32,
)
from netlab.kernel.rtnl import (
    GRE_KEY,
    IFLA_GRE_IFLAGS,
    IFLA_GRE_IKEY,
    IFLA_GRE_LOCAL,
    IFLA_GRE_OFLAGS,
    IFLA_GRE_OKEY,
    IFLA_GRE_REMOTE,
    IFLA_GRE_TTL,
    IFLA_IPTUN_LOCAL,
    IFLA_IPTUN_REMOTE,
    IFLA_IPTUN_TTL,
    IFLA_IPVLAN_MODE,
    IFLA_LINK,
    IFLA_MACVLAN_MODE,
    IFLA_VXLAN_GROUP,
    IFLA_VXLAN_ID,
    IFLA_VXLAN_LOCAL,
    IFLA_VXLAN_PORT,
    IFLA_VXLAN_TTL,
    IPVLAN_MODES,
    MACVLAN_MODES,
)
from netlab.model.plan import CreateSubInterface, CreateTunnel, SetBridgePort


def _u8(kind: int, value: int) -> bytes:
    return nla(kind, struct.pack("=B", value))


def tunnel_data(action: CreateTunnel) -> bytes:
    """IFLA_INFO_DATA of a gre, gretap, ipip, sit or vxlan link (gretap and sit share gre's and ipip's attributes)."""
    if action.kind in ("gre", "gretap"):
        data = nla_ip(IFLA_GRE_LOCAL, action.local) + nla_ip(IFLA_GRE_REMOTE, action.remote)
        if action.key is not None:
            data += (nla(IFLA_GRE_IFLAGS, struct.pack(">H", GRE_KEY)) + nla(IFLA_GRE_OFLAGS, struct.pack(">H", GRE_KEY))
                     + nla(IFLA_GRE_IKEY, struct.pack(">I", action.key))
                     + nla(IFLA_GRE_OKEY, struct.pack(">I", action.key)))
        if action.ttl is not None:
            data += _u8(IFLA_GRE_TTL, action.ttl)
        return data
    if action.kind in ("ipip", "sit"):
        data = nla_ip(IFLA_IPTUN_LOCAL, action.local) + nla_ip(IFLA_IPTUN_REMOTE, action.remote)
        if action.ttl is not None:
            data += _u8(IFLA_IPTUN_TTL, action.ttl)
        return data
    if action.kind == "vxlan":
        data = nla_u32(IFLA_VXLAN_ID, action.vni or 0) + nla_ip(IFLA_VXLAN_GROUP, action.remote)
        data += nla_ip(IFLA_VXLAN_LOCAL, action.local) + nla(IFLA_VXLAN_PORT, struct.pack(">H", action.port or 4789))
        if action.ttl is not None:
            data += _u8(IFLA_VXLAN_TTL, action.ttl)
        return data
    raise ValueError(f"not a tunnel kind: {action.kind}")


def encode(action: CreateTunnel | CreateSubInterface, netns_fd: Callable[[str], int]) -> tuple[bytes, int, int]:
    """(body, RTM_NEWLINK, flags) for one create; ``netns_fd`` opens nothing, it maps a namespace to its fd."""
    if isinstance(action, CreateTunnel):
        attrs = nla_str(IFLA_IFNAME, action.name)
        if action.mtu:
            attrs += nla_u32(IFLA_MTU, action.mtu)
        attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, action.kind),
                            nla_nested(IFLA_INFO_DATA, tunnel_data(action)))
        return ifinfo(action.index, attrs=attrs), RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL
    # a sub-interface: sent in the parent's namespace (IFLA_LINK is looked up there), born in its own
    attrs = nla_str(IFLA_IFNAME, action.name) + nla_u32(IFLA_LINK, action.parent_index)
    if action.target_netns != action.netns:
        attrs += nla_u32(IFLA_NET_NS_FD, netns_fd(action.target_netns))
    if action.mtu:
        attrs += nla_u32(IFLA_MTU, action.mtu)
    if action.mac:
        attrs += nla_mac(IFLA_ADDRESS, action.mac)
    if action.kind == "macvlan":
        data = nla_u32(IFLA_MACVLAN_MODE, MACVLAN_MODES[action.mode])
    else:
        data = nla(IFLA_IPVLAN_MODE, struct.pack("=H", IPVLAN_MODES[action.mode]))
    attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, action.kind), nla_nested(IFLA_INFO_DATA, data))
    return ifinfo(action.index, attrs=attrs), RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL


IFLA_INFO_SLAVE_KIND = 4
IFLA_INFO_SLAVE_DATA = 5
IFLA_BRPORT_MODE = 4
"""The bridge port's hairpin flag (``BR_HAIRPIN_MODE``), in IFLA_INFO_SLAVE_DATA of kind "bridge"."""


def bridge_port(action: SetBridgePort, netns_fd: Callable[[str], int]) -> tuple[bytes, int, int]:
    """RTM_NEWLINK on an existing port: IFLA_LINKINFO { SLAVE_KIND "bridge", SLAVE_DATA { BRPORT_MODE } }."""
    del netns_fd  # sent in the port's own namespace
    data = nla_nested(IFLA_INFO_SLAVE_DATA, _u8(IFLA_BRPORT_MODE, 1 if action.hairpin else 0))
    return ifinfo(action.index, attrs=nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_SLAVE_KIND, "bridge"), data)), \
        RTM_NEWLINK, 0
