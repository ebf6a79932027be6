"""Plan actions for tunnels, sub-interfaces and node bridges, grouped by the phase they belong to.

:func:`netlab.stages.plan.plan` splices each group in at its phase: creation after the veths (bridges
first, so ports can point at them; sub-interfaces in their own ``sublinks`` phase, once every parent
exists), ``up`` with the bridge as master for ports, then the addresses.
"""

from __future__ import annotations

from netlab.features.tunnels.resolved import ResolvedOverlay
from netlab.model.plan import (
    Action,
    AddAddress,
    CreateBridge,
    CreateSubInterface,
    CreateTunnel,
    LinkUp,
    SetBridgePort,
)


def overlay_actions(overlay: ResolvedOverlay, tag: str) -> dict[str, list[Action]]:
    """phase → actions, each list in a stable order (bridges, tunnels, sub-interfaces)."""
    out: dict[str, list[Action]] = {"links": [], "sublinks": [], "up": [], "addresses": []}
    for br in overlay.bridges:
        out["links"].append(CreateBridge(br.netns, br.name, br.index, br.mtu))
        out["up"].append(LinkUp(br.netns, br.name, br.index, tag))
    for t in overlay.tunnels:
        for end in t.ends:
            out["links"].append(CreateTunnel(end.netns, end.ifname, end.index, t.kind, end.local, end.remote, t.key,
                                             t.vni, t.port, t.ttl, t.mtu))
            out["up"].append(LinkUp(end.netns, end.ifname, end.index, tag, end.master_index))
    for s in overlay.subinterfaces:
        out["sublinks"].append(CreateSubInterface(s.parent_netns, s.parent_ifname, s.parent_index, s.kind, s.mode,
                                                  s.netns, s.ifname, s.index, s.mac, s.mtu))
        out["up"].append(LinkUp(s.netns, s.ifname, s.index, tag, s.master_index))
    for br in overlay.bridges:  # after every LinkUp of the phase (the core's come first): each port has its master
        out["up"] += [SetBridgePort(br.netns, name, index) for name, index in br.hairpin]
    for br in overlay.bridges:
        out["addresses"] += [AddAddress(br.netns, br.name, br.index, a) for a in br.addresses]
    for t in overlay.tunnels:
        for end in t.ends:
            out["addresses"] += [AddAddress(end.netns, end.ifname, end.index, a) for a in end.addresses]
    for s in overlay.subinterfaces:
        out["addresses"] += [AddAddress(s.netns, s.ifname, s.index, a) for a in s.addresses]
    return out
