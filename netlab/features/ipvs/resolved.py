"""What the IPVS feature adds to a resolved lab: plain frozen dataclasses, the state's types.

Why a module of their own: the state file holds them, and the commands that only read state (``down``,
``status``) must not import the pydantic models that :mod:`.derive` needs to compute them.
"""

from __future__ import annotations

from netlab.core.frozen import frozen

IP_VS_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}
FWD_METHODS = {"nat": 0, "tun": 2, "dr": 3}  # IP_VS_CONN_F_MASQ, _TUNNEL, _DROUTE


@frozen
class IpvsDest:
    """A real server, resolved and planned alike (netlab.model.plan's AddIpvsService holds these). Here and not in
    the plan: the resolved lab is what ``status`` and ``probe`` decode, and they need no plan types."""

    node: str
    address: str
    port: int
    weight: int
    mode: str
    """nat, dr or tun."""


@frozen
class ResolvedService:
    name: str
    director: str
    family: int
    protocol: str
    vip: str | None
    port: int
    fwmark: int | None
    scheduler: str
    persistence: int | None
    flags: tuple[str, ...]
    dests: tuple[IpvsDest, ...]
