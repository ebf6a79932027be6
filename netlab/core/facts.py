"""What each node's namespace will hold, as the well-formed parts of a topology say: shared by validate's core
checks and every feature's checks (a tunnel adds an interface whose MTU and addresses the route and sysctl
checks must see)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field

from netlab.core.diagnostics import PathKey
from netlab.core.kernel_limits import DEFAULT_MTU

Addr = ipaddress.IPv4Interface | ipaddress.IPv6Interface

__all__ = ["Addr", "NodeFacts", "parsed_addresses"]


@dataclass
class NodeFacts:
    """What one node's namespace will hold, as far as the well-formed parts of a topology say."""

    mtu: dict[str, int] = field(default_factory=lambda: {"lo": DEFAULT_MTU["lo"]})
    """Every interface's MTU when sysctls are written (before bridge ports join their bridge)."""
    final_mtu: dict[str, int] = field(default_factory=lambda: {"lo": DEFAULT_MTU["lo"]})
    """…and once the lab is up (a node bridge without an MTU of its own takes the smallest of its ports')."""
    addresses: dict[str, list[tuple[Addr, PathKey]]] = field(default_factory=dict)
    """Parsable addresses by interface (``loopback:`` under ``lo``), with their data paths."""

    def add_interface(self, ifname: str, mtu: int, addresses: list[tuple[Addr, PathKey]]) -> None:
        """An interface the lab creates in this namespace, with its MTU and parsable addresses."""
        self.mtu[ifname] = self.final_mtu[ifname] = mtu
        self.addresses.setdefault(ifname, []).extend(addresses)

    def all_addresses(self) -> Iterator[tuple[str, Addr]]:
        for ifname, addrs in self.addresses.items():
            for addr, _path in addrs:
                yield ifname, addr


def parsed_addresses(texts: tuple[str, ...], path: PathKey, loopback: bool = False) -> list[tuple[Addr, PathKey]]:
    out = []
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            continue
        apath = (*path, k) if len(texts) > 1 else path
        if ("/" not in text and not loopback) or "%" in text:  # reported by validate's own parse
            continue
        try:
            out.append((ipaddress.ip_interface(text), apath))
        except ValueError:
            continue
    return out
