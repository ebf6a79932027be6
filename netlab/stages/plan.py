"""Stage 4, plan: the resolved lab as an ordered list of kernel actions.

The order is the order the kernel needs: namespaces before the links in them; links before the
sysctls that name them (``net.ipv4.conf.eth0.*`` exists only once eth0 does); interfaces up before
addresses (so connected routes appear) and addresses before routes (a gateway must be reachable
when its route is added); user commands when the node is complete, and its services last (they may
listen on addresses or behind firewall rules that commands set up).
"""

from __future__ import annotations

from netlab.features.iptables.rules import render as render_iptables
from netlab.features.tunnels.plan import overlay_actions
from netlab.model.plan import (
    PHASES,
    Action,
    AddAddress,
    AddIpvsService,
    AddRoute,
    CreateBridge,
    CreateNetns,
    CreateVeth,
    LinkUp,
    LoadIptables,
    Plan,
    RunCommand,
    SetSysctl,
    StartService,
)
from netlab.model.resolved import ResolvedLab
from netlab.ownership import interface_tag


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
    overlay = overlay_actions(lab.overlay, tag)
    actions += overlay["links"] + overlay["sublinks"]  # tunnels, node bridges; then macvlan/ipvlan on their parents
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
                                  lab.overlay.master_of(node.netns, iface.index)))  # a node bridge's port?
        for d in node.derived:
            if d.kind == "link-up" and not d.overridden:
                # a device the kernel made (tunl0): found by name, and not tagged (netlab did not create it)
                actions.append(LinkUp(node.netns, d.target, 0, "", None, d.reason))
    actions += overlay["up"]
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
    actions += overlay["addresses"]
    for node in lab.nodes:
        for route in node.routes:
            actions.append(AddRoute(node.netns, route.to, route.via, route.dev, route.dev_index,
                                    route.metric, route.src, route.family))
        for d in node.derived:
            if d.kind == "route" and not d.overridden:
                family = 6 if ":" in d.value else 4
                actions.append(AddRoute(node.netns, d.target, d.value, None, None, None, None, family, d.reason))
    netns_of = {node.name: node.netns for node in lab.nodes}
    for svc in lab.ipvs:
        actions.append(AddIpvsService(
            netns_of[svc.director], svc.name, svc.family, svc.protocol, svc.vip, svc.port, svc.fwmark,
            svc.scheduler, svc.persistence, svc.flags,
            svc.dests))
    for node in lab.nodes:
        if node.iptables:
            payload, rule_lines = render_iptables(node.name, lab.name, node.iptables)
            actions.append(LoadIptables(node.netns, node.name, payload, rule_lines))
    for node in lab.nodes:
        for command in node.commands:
            actions.append(RunCommand(node.netns, node.name, command))
    for node in lab.nodes:
        for spec in node.services:
            actions.append(StartService(node.netns, node.name, spec.name, spec.kind, spec.protocol, spec.address,
                                        spec.port, spec.body))
    assert [a.phase for a in actions] == sorted((a.phase for a in actions), key=PHASES.index)
    return Plan(lab=lab.name, namespaces=lab.namespaces, actions=tuple(actions))
