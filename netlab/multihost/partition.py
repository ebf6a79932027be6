"""Place a lab's nodes on hosts and cut its plan into one plan per host, the links between hosts stitched.

Why the plan and not the topology: the plan is where every derived setting is already decided (an IPVS real
server's VIP on ``lo`` and ARP sysctls, a director's forwarding), so a real server on another host than its
director gets exactly what it would get on one machine. Each action has one namespace, and each namespace one
host: a node's is where the node is placed, a LAN's is where most of its members are. A veth whose two ends land
on different hosts is the one action that cannot stay: it becomes two stitches (netlab.features.stitches), a
VXLAN device at each end with the same name, index, MAC and VNI, over the hosts' network. Everything else goes
to its namespace's host unchanged, in the plan's order -- so each host's plan is an ordinary plan, applied by the
same code as on one machine.

Placement: a node's ``host:`` if it has one, or the inventory's ``netlab_nodes`` of a host, else a deterministic
spread -- each unplaced node, in topology order, to the host with the fewest nodes so far (ties: inventory order).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter

from netlab.core.diagnostics import Collector, LoadedFile
from netlab.core.frozen import frozen
from netlab.errors import InvalidInput
from netlab.features.stitches.model import STITCH_OVERHEAD, VXLAN_PORT
from netlab.model.plan import Action, CreateStitch, CreateSubInterface, CreateVeth, Plan
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology
from netlab.multihost.inventory import Inventory
from netlab.naming import derived_mac


@frozen
class Cut:
    """A veth between hosts, and the VXLAN stitch that replaces it."""

    a: str
    """``namespace:interface`` of the first end."""
    a_host: str
    b: str
    b_host: str
    vni: int
    mtu: int


@frozen
class Partition:
    lab: str
    placement: tuple[tuple[str, str], ...]
    """(node, host) in topology order."""
    hosts: tuple[tuple[str, str], ...]
    """(namespace, host) of every namespace of the lab."""
    plans: tuple[tuple[str, Plan], ...]
    """(host, its plan), in inventory order; a host with nothing placed on it is left out."""
    cuts: tuple[Cut, ...]

    def plan(self, host: str) -> Plan:
        return dict(self.plans)[host]


def place(loaded: LoadedFile, topo: Topology, inventory: Inventory) -> dict[str, str]:
    """node → host; InvalidInput naming each ``host:`` the inventory does not have."""
    col = Collector(loaded, [])
    load: Counter[str] = Counter({h: 0 for h in inventory.names})
    out: dict[str, str] = {}
    by_inventory = {n: h.name for h in inventory.hosts for n in h.nodes}
    for name in sorted(set(by_inventory) - set(topo.nodes)):
        col.add(("nodes",), f"the inventory places node {name!r} on {by_inventory[name]}, but the lab has no such "
                "node", f"nodes: {', '.join(topo.nodes)}")
    for name, node in topo.nodes.items():
        if node.host is not None and name in by_inventory and by_inventory[name] != node.host:
            col.add(("nodes", name, "host"), f"node {name} is placed on {node.host} here and on "
                    f"{by_inventory[name]} by the inventory")
            continue
        if node.host is None and name in by_inventory:
            out[name] = by_inventory[name]
            load[out[name]] += 1
            continue
        if node.host is not None:
            if node.host not in inventory.names:
                col.add(("nodes", name, "host"), f"host {node.host!r} is not in the inventory {inventory.source}",
                        f"hosts: {', '.join(inventory.names)}")
                continue
            out[name] = node.host
            load[node.host] += 1
    for name in topo.nodes:
        if name not in out:
            host = min(inventory.names, key=lambda h: (load[h], inventory.names.index(h)))
            out[name] = host
            load[host] += 1
    if col.items:
        raise InvalidInput(col.items)
    return out


def vni_of(lab: str, index: int) -> int:
    """The VNI of the lab's ``index``-th cut: distinct within a lab, and labs' ranges start far apart (VNIs must
    differ between two labs stitched over the same hosts: the kernel refuses a second device with one VNI)."""
    return 1 + (zlib.crc32(lab.encode()) * 4096 + index) % 0xFFFFFF


def partition(loaded: LoadedFile, topo: Topology, lab: ResolvedLab, plan: Plan, inventory: Inventory) -> Partition:
    """Each host's plan; InvalidInput with every problem (an unknown host, a too-large MTU on a cut link, a
    sub-interface whose parent is on another host) before anything starts."""
    placement = place(loaded, topo, inventory)
    host_of = {node.netns: placement[node.name] for node in lab.nodes}
    members: dict[str, Counter[str]] = {lan.netns: Counter() for lan in lab.lans}
    def lan_port(action: Action) -> tuple[str, str] | None:
        """(LAN namespace, member namespace) of a veth between the two, in either order."""
        if isinstance(action, CreateVeth):
            for lan_ns, other in ((action.netns, action.peer_netns), (action.peer_netns, action.netns)):
                if lan_ns in members and other in host_of:
                    return lan_ns, other
        return None

    for action in plan.actions:  # a LAN's ports are veths between its namespace and a member's
        if (port := lan_port(action)) is not None:
            members[port[0]][host_of[port[1]]] += 1
    for netns, count in members.items():
        host_of[netns] = min(inventory.names, key=lambda h: (-count[h], inventory.names.index(h)))
    # a LAN with a member on another host: every port of it gets the stitched ports' MTU (unless the lab set
    # one), so no member sends a frame its bridge cannot pass on to a stitched member
    stitched_lans = {port[0] for a in plan.actions if (port := lan_port(a)) is not None
                     and host_of[port[0]] != host_of[port[1]]}
    room = min(h.mtu for h in inventory.hosts) - STITCH_OVERHEAD
    col = Collector(loaded, [])
    out: dict[str, list[Action]] = {h: [] for h in inventory.names}
    cuts: list[Cut] = []
    for action in plan.actions:
        host = host_of[action.netns]
        if isinstance(action, CreateVeth):  # every end a MAC the other hosts can compute (probes name its node)
            action = dataclasses.replace(action, mac=action.mac or derived_mac(lab.name, action.netns, action.name),
                                         peer_mac=action.peer_mac or derived_mac(lab.name, action.peer_netns,
                                                                                 action.peer_name))
            port = lan_port(action)
            if port is not None and port[0] in stitched_lans and action.mtu is None and action.peer_mtu is None:
                action = dataclasses.replace(action, mtu=room, peer_mtu=room)
        if isinstance(action, CreateVeth) and host_of[action.peer_netns] != host:
            peer = host_of[action.peer_netns]
            pair = _stitch(lab.name, action, len(cuts), inventory, host, peer, col)
            if pair is not None:
                out[host].append(pair[0])
                out[peer].append(pair[1])
                cuts.append(Cut(f"{action.netns}:{action.name}", host, f"{action.peer_netns}:{action.peer_name}",
                                peer, pair[0].vni, pair[0].mtu))
            continue
        if isinstance(action, CreateSubInterface) and host_of[action.target_netns] != host:
            col.add((), f"{action.target_netns}:{action.name} is a {action.kind} of {action.netns}:"
                    f"{action.parent_name}, on another host ({host_of[action.target_netns]} vs {host})",
                    "a sub-interface shares its parent's device: place both nodes on one host")
            continue
        out[host].append(action)
    _unique_macs(out, col)
    if col.items:
        raise InvalidInput(col.items)
    plans = tuple((h, Plan(plan.lab, tuple(ns for ns in plan.namespaces if host_of[ns] == h), tuple(out[h])))
                  for h in inventory.names if out[h])
    return Partition(lab.name, tuple(placement.items()), tuple(host_of.items()), plans, tuple(cuts))


def _stitch(lab: str, veth: CreateVeth, index: int, inventory: Inventory, host: str, peer: str,
            col: Collector) -> tuple[CreateStitch, CreateStitch] | None:
    """The two stitches that replace ``veth``: same names, indexes and MACs, one VNI, an MTU that fits the
    underlay (the lab's, if it fits; else the underlay's less VXLAN's 50 bytes)."""
    room = min(inventory.host(host).mtu, inventory.host(peer).mtu) - STITCH_OVERHEAD
    wanted = max(veth.mtu or 0, veth.peer_mtu or 0)
    if wanted > room:
        col.add((), f"link {veth.netns}:{veth.name} <-> {veth.peer_netns}:{veth.peer_name} has MTU {wanted}, but "
                f"between {host} and {peer} VXLAN leaves {room} (underlay MTU less {STITCH_OVERHEAD})",
                f"lower the link's mtu to {room}, raise netlab_mtu of the hosts, or place both nodes on one host")
        return None
    vni = vni_of(lab, index)
    local, remote = inventory.host(host).underlay, inventory.host(peer).underlay
    a = CreateStitch(veth.netns, veth.name, veth.index, vni, local, remote, VXLAN_PORT, wanted or room,
                     veth.mac)  # the caller gave every end a MAC
    b = dataclasses.replace(a, netns=veth.peer_netns, name=veth.peer_name, index=veth.peer_index, local=remote,
                            remote=local, mac=veth.peer_mac)
    return a, b


@frozen
class Watch:
    """A capture or counters probe on one host whose ``during`` probe starts on another: the controller runs the
    two together (netlab.multihost.elsewhere)."""

    probe: str
    host: str
    during: str
    during_host: str


def probe_hosts(probes: tuple[dict[str, object], ...], placement: dict[str, str]) -> tuple[
        dict[str, list[str]], list[Watch], list[tuple[str, str]]]:
    """(host → the probes that run there alone, the watches across hosts, [(probe, why it runs nowhere)]).

    A probe runs on the host of the node it starts from (``from``, else ``node``, else the nodes of ``at``). A
    capture or counters probe runs its ``during`` probe itself: where both are on one host it runs there alone;
    where they are not, it is a :class:`Watch`. A probe whose own nodes are on several hosts runs nowhere (a
    capture at two hosts' interfaces at once is not built yet)."""
    def host_of(probe: dict[str, object]) -> str | None:
        node = probe.get("from", probe.get("node"))
        at = probe.get("at")
        points = [str(a).split(":", 1)[0] for a in (at if isinstance(at, list | tuple) else [at] if at else [])]
        hosts = {placement.get(n) for n in ([str(node)] if node is not None else []) + points}
        return hosts.pop() if len(hosts) == 1 else None

    by_name = {str(p.get("name")): p for p in probes}
    out: dict[str, list[str]] = {}
    watches: list[Watch] = []
    nowhere: list[tuple[str, str]] = []
    for probe in probes:
        name = str(probe.get("name"))
        host = host_of(probe)
        during = by_name.get(str(probe.get("during"))) if "during" in probe else None
        watched = host_of(during) if during is not None else host
        if host is None:
            nowhere.append((name, "its nodes are on several hosts: a probe at several hosts at once is not "
                                  "built yet"))
        elif watched is None:
            nowhere.append((name, f"the probe it watches ({probe.get('during')}) runs on no single host"))
        elif watched != host:
            watches.append(Watch(name, host, str(probe.get("during")), watched))
        else:
            out.setdefault(host, []).append(name)
    return out, watches, nowhere


def _unique_macs(plans: dict[str, list[Action]], col: Collector) -> None:
    """Every link end's MAC once in the whole lab: a MAC the topology gives twice would meet itself on a segment
    that now spans hosts (containerlab #3355), where neither host can see the other's."""
    seen: dict[str, str] = {}
    for actions in plans.values():
        for a in actions:
            ends = ([(a.mac, f"{a.netns}:{a.name}"), (a.peer_mac, f"{a.peer_netns}:{a.peer_name}")]
                    if isinstance(a, CreateVeth) else [(a.mac, f"{a.netns}:{a.name}")]
                    if isinstance(a, CreateStitch) else [])
            for mac, where in ends:
                if mac is None:
                    continue
                if mac.lower() in seen and seen[mac.lower()] != where:
                    col.add((), f"MAC {mac} is given to both {seen[mac.lower()]} and {where}",
                            "give each link end its own MAC (or none: netlab derives one per end)")
                seen.setdefault(mac.lower(), where)
