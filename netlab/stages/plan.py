"""Stage 4, plan: the resolved lab as an ordered list of kernel actions.

The order is the order the kernel needs: namespaces before the links in them; links before the
sysctls that name them (``net.ipv4.conf.eth0.*`` exists only once eth0 does); interfaces up before
addresses (so connected routes appear) and addresses before routes (a gateway must be reachable
when its route is added); user commands last, when the node is complete.
"""

from __future__ import annotations

from netlab.model.plan import (
    PHASES,
    Action,
    AddAddress,
    AddRoute,
    CreateBridge,
    CreateNetns,
    CreateVeth,
    LinkUp,
    Plan,
    RunCommand,
    SetSysctl,
)
from netlab.model.resolved import ResolvedLab

ALIAS_PREFIX = "netlab:"


def interface_tag(lab: str) -> str:
    """The ifalias every interface netlab creates carries: whose it is."""
    return f"{ALIAS_PREFIX}{lab}"


def plan(lab: ResolvedLab) -> Plan:
    actions: list[Action] = []
    tag = interface_tag(lab.name)
    for node in lab.nodes:
        actions.append(CreateNetns(node.netns, node.name, lab.ipv6))
    for lan in lab.lans:
        actions.append(CreateNetns(lan.netns, f"LAN {lan.name}", lab.ipv6))
    for lan in lab.lans:
        actions.append(CreateBridge(lan.netns, lan.bridge, lan.bridge_index, lan.mtu))
    for node in lab.nodes:
        for iface in node.interfaces:
            if iface.segment.startswith("lans."):
                # the node's side creates the pair; the bridge side is the peer
                actions.append(CreateVeth(node.netns, iface.name, iface.index, iface.mtu, iface.mac,
                                          iface.peer.netns, iface.peer.ifname, iface.peer.index,
                                          iface.peer.mtu, None))
            elif (node.netns, iface.index) < (iface.peer.netns, iface.peer.index):
                # a point-to-point pair is created once, from the end that sorts first
                actions.append(CreateVeth(node.netns, iface.name, iface.index, iface.mtu, iface.mac,
                                          iface.peer.netns, iface.peer.ifname, iface.peer.index,
                                          iface.peer.mtu, iface.peer.mac))
    for node in lab.nodes:
        for key, value in node.sysctls:
            actions.append(SetSysctl(node.netns, key, value))
        for iface in node.interfaces:
            for key, value in iface.sysctls:
                actions.append(SetSysctl(node.netns, key, value))
    for lan in lab.lans:
        actions.append(LinkUp(lan.netns, lan.bridge, lan.bridge_index, tag))
        for port in lan.ports:
            actions.append(LinkUp(lan.netns, port.name, port.index, tag, lan.bridge_index))
    for node in lab.nodes:
        for iface in node.interfaces:
            actions.append(LinkUp(node.netns, iface.name, iface.index, tag))
    for node in lab.nodes:
        for address in node.loopback:
            actions.append(AddAddress(node.netns, "lo", 1, address))
        for iface in node.interfaces:
            for address in iface.addresses:
                actions.append(AddAddress(node.netns, iface.name, iface.index, address))
    for node in lab.nodes:
        for route in node.routes:
            actions.append(AddRoute(node.netns, route.to, route.via, route.dev, route.dev_index,
                                    route.metric, route.src, route.family))
    for node in lab.nodes:
        for command in node.commands:
            actions.append(RunCommand(node.netns, node.name, command))
    assert [a.phase for a in actions] == sorted((a.phase for a in actions), key=PHASES.index)
    return Plan(lab=lab.name, namespaces=lab.namespaces, actions=tuple(actions))
