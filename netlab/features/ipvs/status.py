"""``netlab status`` for IPVS: each director's table read back from the kernel, laid out like
``ipvsadm -Ln --stats`` (the layout a learner compares with the textbooks')."""

from __future__ import annotations

from collections.abc import Callable

from netlab.core.codec import to_data
from netlab.features.ipvs.kernel import ServiceStats
from netlab.features.manifest import StatusPart
from netlab.kernel.netns import inside
from netlab.model.resolved import ResolvedLab


def read_ipvs(netns: str) -> list[ServiceStats]:
    """The IPVS table of a namespace (``ipvsadm -Ln --stats`` as data); empty if it has none or is gone."""
    from netlab.features.ipvs.kernel import read_table

    with inside(netns) as present:
        if not present:
            return []
        try:
            return read_table()
        except Exception:  # no IPVS in this kernel: nothing to show
            return []


def render(services: tuple[ServiceStats, ...]) -> str:
    lines = [f"  {'Prot LocalAddress:Port':<34} {'Sched':<6} {'Conns':>6} {'InPkts':>8} {'OutPkts':>8}",
             f"    {'-> RemoteAddress:Port':<32} {'Forward':<7} {'Weight':>6} {'Active':>6} {'InAct':>6} "
             f"{'Conns':>6} {'InPkts':>8} {'OutPkts':>8}"]
    for svc in services:
        vip = f"{svc.protocol.upper()} {svc.address}:{svc.port}"
        where = f"FWM {svc.fwmark}" if svc.fwmark else vip
        persist = f" persistent {svc.persistent}" if svc.persistent else ""
        lines.append(f"  {where:<34} {svc.scheduler:<6} {svc.conns:>6} {svc.inpkts:>8} {svc.outpkts:>8}{persist}")
        for d in svc.dests:
            lines.append(f"    -> {d.address + ':' + str(d.port):<29} {d.forward.capitalize():<7} "
                         f"{d.weight:>6} {d.active:>6} {d.inactive:>6} {d.conns:>6} {d.inpkts:>8} {d.outpkts:>8}")
    return "\n".join(lines)


def part(director: str, services: tuple[ServiceStats, ...]) -> StatusPart:
    return StatusPart(director, f"IPVS on {director}", render(services), to_data(services))


def sections(lab: ResolvedLab, netns_of: Callable[[str], str | None]) -> list[StatusPart]:
    """The status hook: every director's table."""
    out = []
    for director in sorted({svc.director for svc in lab.ipvs}):
        netns = netns_of(director)
        if netns is not None:
            out.append(part(director, tuple(read_ipvs(netns))))
    return out
