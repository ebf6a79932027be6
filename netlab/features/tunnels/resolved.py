"""What the tunnels feature adds to a resolved lab: plain frozen dataclasses, the state's types.

Why a module of their own: the state file holds them, and the commands that only read state (``down``,
``status``) must not import the topology's pydantic models that :mod:`.resolve` needs to compute them.
"""

from __future__ import annotations

from dataclasses import field
from typing import Protocol

from netlab.core.frozen import frozen


@frozen
class ResolvedTunnelEnd:
    node: str
    netns: str
    ifname: str
    index: int
    local: str
    remote: str
    addresses: tuple[str, ...]
    master_index: int | None


@frozen
class ResolvedTunnel:
    name: str
    kind: str
    key: int | None
    vni: int | None
    port: int | None
    ttl: int | None
    mtu: int | None
    ends: tuple[ResolvedTunnelEnd, ResolvedTunnelEnd]


@frozen
class ResolvedSubInterface:
    node: str
    netns: str
    ifname: str
    index: int
    kind: str
    mode: str
    parent_node: str
    parent_netns: str
    parent_ifname: str
    parent_index: int
    addresses: tuple[str, ...]
    mac: str | None
    mtu: int | None
    master_index: int | None


@frozen
class ResolvedNodeBridge:
    node: str
    netns: str
    name: str
    index: int
    mtu: int | None
    addresses: tuple[str, ...]
    members: tuple[str, ...]
    hairpin: tuple[tuple[str, int], ...] = ()
    """(name, index) of the ports with hairpin mode on."""


@frozen
class ResolvedOverlay:
    """Everything this package adds to a resolved lab."""

    tunnels: tuple[ResolvedTunnel, ...] = ()
    subinterfaces: tuple[ResolvedSubInterface, ...] = ()
    bridges: tuple[ResolvedNodeBridge, ...] = ()
    masters: tuple[tuple[str, int, int], ...] = field(default=())
    """(netns, interface index, bridge index) of every link/LAN interface that is a node bridge's port."""

    def indexes(self, node: str) -> dict[str, int]:
        """Interface name → index of what this package creates in ``node`` (for routes with ``dev``)."""
        out = {b.name: b.index for b in self.bridges if b.node == node}
        out |= {s.ifname: s.index for s in self.subinterfaces if s.node == node}
        out |= {e.ifname: e.index for t in self.tunnels for e in t.ends if e.node == node}
        return out

    def master_of(self, netns: str, index: int) -> int | None:
        for ns, idx, master in self.masters:
            if ns == netns and idx == index:
                return master
        return None


class WithOverlay(Protocol):
    """A resolved lab, as far as this package reads it (model/resolved.py imports this module: no cycle)."""

    @property
    def overlay(self) -> ResolvedOverlay: ...


def interfaces(lab: WithOverlay, node: str) -> list[tuple[str, tuple[str, ...]]]:
    """A node's bridges, tunnel ends and sub-interfaces with their addresses (the manifest's ``interfaces``)."""
    overlay = lab.overlay
    found = [(b.name, b.addresses) for b in overlay.bridges if b.node == node]
    found += [(e.ifname, e.addresses) for t in overlay.tunnels for e in t.ends if e.node == node]
    found += [(s.ifname, s.addresses) for s in overlay.subinterfaces if s.node == node]
    return found
