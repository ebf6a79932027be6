"""Kernel features a lab's tunnels, sub-interfaces and node bridges need (a DERIVERS entry)."""

from __future__ import annotations

from netlab.core.requirement import Requirement
from netlab.model.topology import Topology

WHY = {"gre": "is a GRE tunnel (ip_gre)", "gretap": "is a GRE tunnel carrying Ethernet (ip_gre)",
       "ipip": "is an IPIP tunnel (ipip)", "sit": "is an IPv6-in-IPv4 tunnel (sit)",
       "vxlan": "is a VXLAN tunnel (vxlan)"}


def requirements(topo: Topology) -> list[Requirement]:
    reqs = []
    for i, t in enumerate(topo.tunnels):
        reqs.append(Requirement(t.kind, f"tunnel {t.name or f'tunnels[{i}]'} {WHY[t.kind]}"))
    for name, node in topo.nodes.items():
        for sub in node.subinterfaces:
            reqs.append(Requirement(sub.kind, f"{name} has a {sub.kind} sub-interface on {sub.parent}"))
        for br in node.bridges:
            reqs.append(Requirement("bridge", f"{name} has a bridge {br}"))
    return reqs
