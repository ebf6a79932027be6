"""Settings netlab derives for a node from the role a feature gives it, each with the reason why.

Why a core type: a feature derives them (IPVS: ARP sysctls on a DR real server, the VIP, a NAT real server's
default route), but the plan applies them as ordinary sysctls, addresses, routes and link-ups, and
``--dry-run`` and ``status`` show their reasons -- so every stage speaks this one vocabulary.
"""

from __future__ import annotations

from typing import Literal

from netlab.core.frozen import frozen

SettingKind = Literal["sysctl", "address", "route", "link-up"]

__all__ = ["DerivedSetting", "SettingKind"]


@frozen
class DerivedSetting:
    """One setting a node needs because of its role in a feature (an IPVS director or real server)."""

    node: str
    kind: SettingKind
    target: str
    """sysctl key, address (``192.0.2.100/32``), route destination, or interface name."""
    value: str
    """sysctl value, interface the address goes on, or route gateway."""
    reason: str
    overridden: bool = False
    """The topology sets this itself; the derived value is not applied."""
