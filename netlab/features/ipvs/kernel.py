"""IPVS over generic netlink, through pyroute2's IPVS API, inside a namespace.

IPVS state is per network namespace, so the director's services live in the director's namespace
and vanish with it: ``down`` needs no IPVS-specific cleanup, and nothing is ever configured in the
root namespace. pyroute2's ``IPVS`` socket is opened while this thread is inside the namespace
(the socket stays bound to it), which avoids the helper process ``IPVS(netns=...)`` would fork.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

from netlab.core.frozen import frozen
from netlab.errors import ApplyError
from netlab.features.ipvs.resolved import FWD_METHODS, IP_VS_PROTOCOLS
from netlab.model.plan import AddIpvsService

if TYPE_CHECKING:  # an annotation: down, clean and up of a cached plan need no feature table
    from netlab.features.base import Executor

IP_VS_SVC_F_PERSISTENT = 0x0001
IP_VS_SVC_F_ONEPACKET = 0x0004
IP_VS_SVC_F_SCHED1 = 0x0008  # sh-fallback
IP_VS_SVC_F_SCHED2 = 0x0010  # sh-port
FLAG_BITS = {"onepacket": IP_VS_SVC_F_ONEPACKET, "sh-fallback": IP_VS_SVC_F_SCHED1, "sh-port": IP_VS_SVC_F_SCHED2}
METHOD_NAMES = {0: "masq", 1: "local", 2: "tunnel", 3: "route", 4: "bypass"}
PROTOCOL_NAMES = {v: k for k, v in IP_VS_PROTOCOLS.items()}
COUNTERS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def _service_fields(svc: AddIpvsService) -> dict[str, object]:
    fields: dict[str, object] = {}
    if svc.fwmark is not None:
        # the kernel rejects a service without a netmask (EINVAL); pyroute2 adds one only for an address. IPv4:
        # a mask; IPv6: a prefix length as a host-order u32, which pyroute2 can only pass as its IPv4 bytes
        netmask = "255.255.255.255" if svc.family == 4 else socket.inet_ntoa(struct.pack("=I", 128))
        fields.update(fwmark=svc.fwmark, af=socket.AF_INET if svc.family == 4 else socket.AF_INET6, netmask=netmask)
    else:
        fields.update(addr=svc.vip, port=svc.port, protocol=IP_VS_PROTOCOLS[svc.protocol])
    return fields


def configure(services: list[AddIpvsService]) -> None:
    """Create every service and its real servers. Call with this thread inside the director's namespace."""
    from pyroute2 import IPVS, IPVSDest, IPVSService

    ipvs = IPVS()
    try:
        for svc in services:
            flags = 0
            for flag in svc.flags:
                flags |= FLAG_BITS[flag]
            if svc.persistence:
                flags |= IP_VS_SVC_F_PERSISTENT
            service = IPVSService(**_service_fields(svc), sched_name=svc.scheduler,
                                  timeout=svc.persistence or 0, flags={"flags": flags, "mask": 0xFFFFFFFF})
            ipvs.service("add", service=service)
            for dest in svc.dests:
                ipvs.dest("add", service=service,
                          dest=IPVSDest(addr=dest.address, port=dest.port, weight=dest.weight,
                                        fwd_method=FWD_METHODS[dest.mode]))
    finally:
        ipvs.close()


@frozen
class DestStats:
    address: str
    port: int
    forward: str
    weight: int
    active: int
    inactive: int
    conns: int
    inpkts: int
    outpkts: int
    inbytes: int = 0
    outbytes: int = 0
    rates: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """Estimated rates (connections, packets in, packets out, bytes in, bytes out per second), as
    ``ipvsadm --rate`` shows them."""


@frozen
class ServiceStats:
    protocol: str
    address: str
    port: int
    fwmark: int
    scheduler: str
    persistent: int
    conns: int
    inpkts: int
    outpkts: int
    dests: tuple[DestStats, ...]
    inbytes: int = 0
    outbytes: int = 0
    rates: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """As :attr:`DestStats.rates`."""


def _stats(msg: object, attr: str) -> dict[str, int]:
    stats = msg.get_attr(attr)  # type: ignore[attr-defined]
    if stats is None:
        return {}
    out = {}
    for key in (*COUNTERS, *RATES):
        value = stats.get_attr(f"IPVS_STATS_ATTR_{key.upper()}")
        if value is not None:
            out[key] = int(value)
    return out


def _rates(stats: dict[str, int]) -> tuple[int, int, int, int, int]:
    cps, inpps, outpps, inbps, outbps = (stats.get(key, 0) for key in RATES)
    return cps, inpps, outpps, inbps, outbps


def read_table() -> list[ServiceStats]:
    """The IPVS table, like ``ipvsadm -Ln --stats --rate``. Call with this thread inside the namespace.

    The counters are what the kernel's rate estimator last published (it runs every 2 s), not live ones;
    the active/inactive connection counts are live."""
    from pyroute2 import IPVS, IPVSService

    ipvs = IPVS()
    out = []
    try:
        for msg in ipvs.service("dump"):
            svc_nla = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
            service = IPVSService.from_message(msg)
            s = _stats(svc_nla, "IPVS_SVC_ATTR_STATS64") or _stats(svc_nla, "IPVS_SVC_ATTR_STATS")
            dests = []
            for dmsg in ipvs.dest("dump", service=service):
                d_nla = dmsg.get_attr("IPVS_CMD_ATTR_DEST")
                ds = _stats(d_nla, "IPVS_DEST_ATTR_STATS64") or _stats(d_nla, "IPVS_DEST_ATTR_STATS")
                dests.append(DestStats(
                    address=str(d_nla.get_attr("IPVS_DEST_ATTR_ADDR")), port=int(d_nla.get_attr("IPVS_DEST_ATTR_PORT")),
                    forward=METHOD_NAMES.get(int(d_nla.get_attr("IPVS_DEST_ATTR_FWD_METHOD")) & 7, "?"),
                    weight=int(d_nla.get_attr("IPVS_DEST_ATTR_WEIGHT")),
                    active=int(d_nla.get_attr("IPVS_DEST_ATTR_ACTIVE_CONNS") or 0),
                    inactive=int(d_nla.get_attr("IPVS_DEST_ATTR_INACT_CONNS") or 0),
                    conns=ds.get("conns", 0), inpkts=ds.get("inpkts", 0), outpkts=ds.get("outpkts", 0),
                    inbytes=ds.get("inbytes", 0), outbytes=ds.get("outbytes", 0), rates=_rates(ds)))
            flags = svc_nla.get_attr("IPVS_SVC_ATTR_FLAGS")
            persistent = bool(flags and flags["flags"] & IP_VS_SVC_F_PERSISTENT)
            out.append(ServiceStats(
                protocol=PROTOCOL_NAMES.get(int(svc_nla.get_attr("IPVS_SVC_ATTR_PROTOCOL") or 0), "fwm"),
                address=str(svc_nla.get_attr("IPVS_SVC_ATTR_ADDR") or ""),
                port=int(svc_nla.get_attr("IPVS_SVC_ATTR_PORT") or 0),
                fwmark=int(svc_nla.get_attr("IPVS_SVC_ATTR_FWMARK") or 0),
                scheduler=str(svc_nla.get_attr("IPVS_SVC_ATTR_SCHED_NAME")),
                persistent=int(svc_nla.get_attr("IPVS_SVC_ATTR_TIMEOUT") or 0) if persistent else 0,
                conns=s.get("conns", 0), inpkts=s.get("inpkts", 0), outpkts=s.get("outpkts", 0),
                dests=tuple(dests), inbytes=s.get("inbytes", 0), outbytes=s.get("outbytes", 0), rates=_rates(s)))
    finally:
        ipvs.close()
    return out


def apply(executor: Executor, actions: list[AddIpvsService]) -> None:
    """Apply's executor: each virtual service through pyroute2's IPVS API, from inside its director's namespace."""
    import os

    for action in actions:
        try:
            with executor.entered(executor.fd(action.netns)):
                configure([action])
        except Exception as exc:  # pyroute2 raises NetlinkError (an OSError) or its own types
            code = getattr(exc, "code", None)
            detail = f"{os.strerror(code)} (errno {code})" if isinstance(code, int) else str(exc)
            raise ApplyError(f"step `{action.describe()}` failed: {detail}") from None
