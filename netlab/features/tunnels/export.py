"""``netlab export`` of tunnels and sub-interfaces: the ``ip link add`` that makes the same link as the message
:mod:`.kernel` packs.

Why every value is spelled out, defaults included (``dstport 4789``, ``mode ipip``): ``ip`` and netlab would
otherwise fall back to different defaults (the kernel's VXLAN port is 8472, netlab's the IANA 4789; ``ip`` asks an
ipip tunnel for any inner protocol, netlab leaves the kernel's IPIP only), and the script must build the same lab.
Interface indexes are left to the kernel; bridges inside nodes are core actions (views/export.py).
"""

from __future__ import annotations

from shlex import quote

from netlab.model.plan import CreateSubInterface, CreateTunnel, SetBridgePort

VXLAN_PORT = 4789
"""What :mod:`.kernel` sends when the topology gives no port."""


def tunnel(action: CreateTunnel) -> list[str]:
    """``ip link add NAME type gre|gretap|ipip|sit|vxlan …`` inside the node."""
    head = f"ip -n {quote(action.netns)} link add {quote(action.name)}" + (f" mtu {action.mtu}" if action.mtu else "")
    ttl = f" ttl {action.ttl}" if action.ttl is not None else ""
    if action.kind == "sit" and action.ttl is None:
        # the kernel's sit gets ttl 64 from a netlink request without one (netlab's); `ip` sends 0, "inherit"
        ttl = " ttl 64"
    if action.kind == "vxlan":
        return [f"{head} type vxlan id {action.vni or 0} remote {action.remote} local {action.local} "
                f"dstport {action.port or VXLAN_PORT}{ttl}"]
    key = f" key {action.key}" if action.key is not None and action.kind in ("gre", "gretap") else ""
    # ipip and sit: `ip` would ask for proto "any" (IPv4, IPv6 and MPLS); netlab's message leaves the kernel's
    # default, IPv4 only for ipip, IPv6 only for sit
    mode = {"ipip": " mode ipip", "sit": " mode ip6ip"}.get(action.kind, "")
    return [f"{head} type {action.kind}{mode} local {action.local} remote {action.remote}{key}{ttl}"]


def subinterface(action: CreateSubInterface) -> list[str]:
    """``ip link add NAME link PARENT netns TARGET type macvlan|ipvlan mode M``, sent in the parent's namespace
    (where ``link`` is looked up) and born directly in its own, as netlab makes it."""
    where = f" netns {quote(action.target_netns)}" if action.target_netns != action.netns else ""
    extra = (f" mtu {action.mtu}" if action.mtu else "") + (f" address {action.mac}" if action.mac else "")
    return [f"ip -n {quote(action.netns)} link add {quote(action.name)} link {quote(action.parent_name)}{where}"
            f"{extra} type {action.kind} mode {action.mode}"]


def commands(action: CreateTunnel | CreateSubInterface | SetBridgePort) -> list[str]:
    """The export hook (netlab.features.base.Feature.export): the shell lines of one of this feature's actions."""
    if isinstance(action, CreateTunnel):
        return tunnel(action)
    if isinstance(action, SetBridgePort):
        return [f"ip -n {quote(action.netns)} link set {quote(action.name)} type bridge_slave hairpin "
                f"{'on' if action.hairpin else 'off'}"]
    return subinterface(action)
