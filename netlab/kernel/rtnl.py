"""The rtnetlink messages netlab sends, one encoder per message shape, and the numbers they use.

Why a module of its own: apply, the tunnels feature and the tests that pin these bytes against
pyroute2's decoder (tests/unit/test_netlink_decode.py) all need the same message shapes and the same
uapi numbers; with one encoder per shape and one definition per constant, there is one place to read
what netlab tells the kernel and one place to get it wrong.

Why plain parameters rather than plan actions: this is a kernel primitive. It knows names, indexes,
addresses and file descriptors, not labs or plans (it imports nothing from netlab but
:mod:`netlab.kernel.netlink`), so apply maps each action to one call and a test can build any
message without building a plan.

Why packed by hand: see :mod:`netlab.kernel.netlink` (pyroute2's encoder costs 13-18x more on a
thousand-node plan). Attributes go in the order ``ip`` sends them; every create is ``NLM_F_EXCL``, so
an object that already exists is an error, never silently reused.

Where the numbers live: the netlink header flags (``NLM_F_*``), ``RTM_NEWLINK`` and the attribute
types :mod:`netlab.kernel.netlink` already packs or reads (``IFLA_IFNAME``, ``IFA_LOCAL``,
``RTA_DST`` …) are defined there, since its socket and its dump helpers use them; every other
rtnetlink number netlab sends is defined here, including those of the tunnel and sub-interface
messages the tunnels feature packs (netlab.features.tunnels.kernel).
"""

from __future__ import annotations

import ipaddress
import socket

from netlab.kernel.netlink import (
    IFA_ADDRESS,
    IFA_BROADCAST,
    IFA_LOCAL,
    IFLA_ADDRESS,
    IFLA_IFALIAS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_NET_NS_FD,
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTA_PREFSRC,
    RTA_PRIORITY,
    RTA_TABLE,
    RTM_NEWLINK,
    VETH_INFO_PEER,
    ifaddr,
    ifinfo,
    nla,
    nla_ip,
    nla_mac,
    nla_nested,
    nla_str,
    nla_u32,
    route,
)

Message = tuple[bytes, int, int]
"""(body after the 16-byte netlink header, message type, extra flags): what
:meth:`netlab.kernel.netlink.RtnlSocket.request_many` takes (it adds NLM_F_REQUEST | NLM_F_ACK)."""

# <linux/rtnetlink.h>
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RTN_UNICAST = 1
# <linux/if.h>, <linux/if_addr.h>
IFF_UP = 1
IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80
# <linux/if_link.h>
IFLA_LINK = 5
IFLA_AF_SPEC = 26
IFLA_INET6_ADDR_GEN_MODE = 8
"""Inside IFLA_AF_SPEC → AF_INET6 (<linux/if_link.h>): a u8, one of the ``IN6_ADDR_GEN_MODE_*``."""
IN6_ADDR_GEN_MODE_NONE = 1
IFLA_VXLAN_ID, IFLA_VXLAN_GROUP, IFLA_VXLAN_LOCAL, IFLA_VXLAN_TTL, IFLA_VXLAN_PORT = 1, 2, 4, 5, 15
IFLA_MACVLAN_MODE = 1
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}
IFLA_IPVLAN_MODE = 1
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}
# <linux/if_tunnel.h>
IFLA_GRE_IFLAGS, IFLA_GRE_OFLAGS, IFLA_GRE_IKEY, IFLA_GRE_OKEY = 2, 3, 4, 5
IFLA_GRE_LOCAL, IFLA_GRE_REMOTE, IFLA_GRE_TTL = 6, 7, 8
GRE_KEY = 0x2000
IFLA_IPTUN_LOCAL, IFLA_IPTUN_REMOTE, IFLA_IPTUN_TTL = 2, 3, 4

LOOPBACK_INDEX = 1
"""``lo`` is always the first interface of a namespace."""
_CREATE = NLM_F_CREATE | NLM_F_EXCL


def new_bridge(name: str, index: int, mtu: int | None) -> Message:
    """RTM_NEWLINK of a bridge with the index the plan chose (``ip link add NAME type bridge``)."""
    attrs = nla_str(IFLA_IFNAME, name)
    if mtu:
        attrs += nla_u32(IFLA_MTU, mtu)
    attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, "bridge"))
    return ifinfo(index, attrs=attrs), RTM_NEWLINK, _CREATE


def new_veth(name: str, index: int, mtu: int | None, mac: str | None, peer_name: str, peer_netns_fd: int,
             peer_index: int, peer_mtu: int | None, peer_mac: str | None) -> Message:
    """RTM_NEWLINK of a veth pair; the peer is born directly in the namespace ``peer_netns_fd`` with its
    own index, so both ends exist, named and numbered, after one message (no move, no rename)."""
    peer = nla_str(IFLA_IFNAME, peer_name) + nla_u32(IFLA_NET_NS_FD, peer_netns_fd)
    if peer_mtu:
        peer += nla_u32(IFLA_MTU, peer_mtu)
    if peer_mac:
        peer += nla_mac(IFLA_ADDRESS, peer_mac)
    attrs = nla_str(IFLA_IFNAME, name)
    if mtu:
        attrs += nla_u32(IFLA_MTU, mtu)
    if mac:
        attrs += nla_mac(IFLA_ADDRESS, mac)
    attrs += nla_nested(IFLA_LINKINFO, nla_str(IFLA_INFO_KIND, "veth"), nla_nested(
        IFLA_INFO_DATA, nla(VETH_INFO_PEER, ifinfo(peer_index, attrs=peer))))
    return ifinfo(index, attrs=attrs), RTM_NEWLINK, _CREATE


def link_up(index: int, name: str, alias: str, master_index: int | None) -> Message:
    """RTM_NEWLINK setting IFF_UP, and the alias (netlab's tag) and bridge master when given.

    ``index`` 0 means a device the kernel made (``tunl0``, ``gre0``), found by ``name``; the name is
    sent only then, since with an index the kernel would take it as a rename.
    """
    attrs = nla_str(IFLA_IFALIAS, alias) if alias else b""
    if not index:
        attrs += nla_str(IFLA_IFNAME, name)
    if master_index:
        attrs += nla_u32(IFLA_MASTER, master_index)
    return ifinfo(index, IFF_UP, IFF_UP, attrs), RTM_NEWLINK, 0


def no_link_local(index: int, name: str) -> Message:
    """RTM_SETLINK of IPv6 address generation mode "none" (``ip link set NAME addrgenmode none``): the interface
    then gets no link-local address when it comes up, and without one Linux sends no duplicate address detection
    and no router solicitation on it, nor MLD reports, as long as it joins no group of its own (a bridge does:
    netlab.kernel.proc.bridge_ipv6_off) -- IPv6 stays silent while it stays on.

    Why a message of its own, sent before :func:`link_up` in the same batch (measured on 6.18, pinned in
    tests/integration/test_ipv6_silent.py): the kernel refuses ``IFLA_AF_SPEC`` in a create, the veth peer's
    included (EAFNOSUPPORT: there is no IPv6 state to set before the device exists), and in the message that
    sets IFF_UP it applies the flags first (``do_setlink``), so an interface already "up" for addrconf has its
    link-local address by the time the mode is set. ``index`` 0: a device the kernel made, found by ``name``.

    The kernel answers EAFNOSUPPORT for an interface that has no IPv6 at all (an MTU below 1280, a kernel
    without IPv6): such an interface is silent already, and the caller may ignore that answer.
    """
    inet6 = nla_nested(socket.AF_INET6, nla(IFLA_INET6_ADDR_GEN_MODE, bytes([IN6_ADDR_GEN_MODE_NONE])))
    attrs = b"" if index else nla_str(IFLA_IFNAME, name)
    return ifinfo(index, attrs=attrs + nla_nested(IFLA_AF_SPEC, inet6)), RTM_SETLINK, 0


def tag_loopback(alias: str) -> Message:
    """``lo`` up with ``alias``: how a new namespace gets netlab's ownership tag before it has a name."""
    return link_up(LOOPBACK_INDEX, "lo", alias, None)


def new_address(index: int, address: str) -> Message:
    """RTM_NEWADDR of ``address`` (``10.0.0.1/24``, ``fd00::1/64``) on interface ``index``.

    IPv4 gets a broadcast address unless the prefix is /31 or /32 (which have none), as ``ip addr add
    … brd +`` would. IPv6 is added permanent and without duplicate address detection: validate already
    proved the lab's addresses unique, and DAD would leave the address tentative (unusable) for about
    a second after ``up``. A loopback address (127/8, ::1) has host scope, as the kernel gives ``lo``'s own.
    """
    iface = ipaddress.ip_interface(address)
    ip = str(iface.ip)
    if iface.version == 4:
        family, flags = socket.AF_INET, 0
        attrs = nla_ip(IFA_LOCAL, ip) + nla_ip(IFA_ADDRESS, ip)
        if iface.network.prefixlen < 31:
            attrs += nla_ip(IFA_BROADCAST, str(iface.network.broadcast_address))
    else:
        family, flags = socket.AF_INET6, IFA_F_PERMANENT | IFA_F_NODAD
        attrs = nla_ip(IFA_ADDRESS, ip)
    scope = RT_SCOPE_HOST if iface.ip.is_loopback else RT_SCOPE_UNIVERSE
    return ifaddr(family, iface.network.prefixlen, index, scope, flags, attrs), RTM_NEWADDR, _CREATE


def new_route(to: str, via: str | None, dev_index: int | None, metric: int | None, src: str | None,
              family: int) -> Message:
    """RTM_NEWROUTE of a static unicast route in the main table.

    ``to`` is ``default`` or a prefix (host bits are dropped, as ``ip route`` does); ``family`` is 4 or 6
    (a default route has no address to tell). Scope is universe through a gateway and link without one.
    """
    attrs = nla_u32(RTA_TABLE, RT_TABLE_MAIN)
    dst_len = 0
    if to != "default":
        net = ipaddress.ip_network(to, strict=False)
        dst_len = net.prefixlen
        attrs += nla_ip(RTA_DST, str(net.network_address))
    if via:
        attrs += nla_ip(RTA_GATEWAY, via)
    if dev_index:
        attrs += nla_u32(RTA_OIF, dev_index)
    if metric is not None:
        attrs += nla_u32(RTA_PRIORITY, metric)
    if src:
        attrs += nla_ip(RTA_PREFSRC, src)
    body = route(socket.AF_INET if family == 4 else socket.AF_INET6, RT_TABLE_MAIN, RTPROT_STATIC,
                 RT_SCOPE_UNIVERSE if via else RT_SCOPE_LINK, RTN_UNICAST, dst_len, attrs)
    return body, RTM_NEWROUTE, _CREATE
