"""Stage 4, plan: the resolved lab as an ordered list of kernel actions.

The order is the order the kernel needs: namespaces before the links in them; links before the
sysctls that name them (``net.ipv4.conf.eth0.*`` exists only once eth0 does); interfaces up before
addresses (so connected routes appear) and addresses before routes (a gateway must be reachable
when its route is added); user commands when the node is complete, and its services last (they may
listen on addresses or behind firewall rules that commands set up).
"""

from __future__ import annotations

from netlab.features.base import PlanContext
from netlab.features.registry import FEATURES
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
from netlab.ownership import interface_tag


def plan(lab: ResolvedLab) -> Plan:
    actions: list[Action] = []
    tag = interface_tag(lab.name)
    masters: dict[tuple[str, int], int] = {}
    for feature in FEATURES:
        if feature.masters is not None:
            masters.update(feature.masters(lab))
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
        for d in node.derived:
            if d.kind == "sysctl" and not d.overridden:
                actions.append(SetSysctl(node.netns, d.target, d.value, d.reason))
        for iface in node.interfaces:
            for key, value in iface.sysctls:
                actions.append(SetSysctl(node.netns, key, value))
    for lan in lab.lans:
        actions.append(LinkUp(lan.netns, lan.bridge, lan.bridge_index, tag))
        for port in lan.ports:
            actions.append(LinkUp(lan.netns, port.name, port.index, tag, lan.bridge_index))
    for node in lab.nodes:
        for iface in node.interfaces:
            actions.append(LinkUp(node.netns, iface.name, iface.index, tag,
                                  masters.get((node.netns, iface.index))))  # a port of a bridge inside the node?
        for d in node.derived:
            if d.kind == "link-up" and not d.overridden:
                # a device the kernel made (tunl0): found by name, and not tagged (netlab did not create it)
                actions.append(LinkUp(node.netns, d.target, 0, "", None, d.reason))
    for node in lab.nodes:
        for address in node.loopback:
            actions.append(AddAddress(node.netns, "lo", 1, address))
        for iface in node.interfaces:
            for address in iface.addresses:
                actions.append(AddAddress(node.netns, iface.name, iface.index, address))
        # after the node's own addresses: the first address of a subnet on an interface is its primary,
        # the one the node's own traffic leaves with, and that must not be a VIP
        by_name = {i.name: i.index for i in node.interfaces} | {"lo": 1}
        for d in node.derived:
            if d.kind == "address" and not d.overridden:
                actions.append(AddAddress(node.netns, d.value, by_name[d.value], d.target, d.reason))
    for node in lab.nodes:
        for route in node.routes:
            actions.append(AddRoute(node.netns, route.to, route.via, route.dev, route.dev_index,
                                    route.metric, route.src, route.family))
        for d in node.derived:
            if d.kind == "route" and not d.overridden:
                family = 6 if ":" in d.value else 4
                actions.append(AddRoute(node.netns, d.target, d.value, None, None, None, None, family, d.reason))
    for node in lab.nodes:
        for command in node.commands:
            actions.append(RunCommand(node.netns, node.name, command))
    ctx = PlanContext(tag)
    for feature in FEATURES:
        if feature.plan is not None:
            actions += feature.plan(lab, ctx)
    # a stable sort: within a phase the core's actions come first, then each feature's in registration order
    rank = {phase: i for i, phase in enumerate(PHASES)}
    actions.sort(key=lambda action: rank[action.phase])
    return Plan(lab=lab.name, namespaces=lab.namespaces, actions=tuple(actions))
