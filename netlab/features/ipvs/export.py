"""``netlab export`` of IPVS: ``ipvsadm -A`` for each virtual service and ``ipvsadm -a`` for each real server, run
in the director's namespace (IPVS tables are per namespace, as :mod:`.kernel` explains).

Why ``ipvsadm``: it is the tool every IPVS guide and ``netlab status`` speak (``ipvsadm -Ln``), so a reader can
change a weight or a scheduler by hand in the script; the options map one to one onto what :mod:`.kernel` sends
through pyroute2 (same scheduler, persistence timeout, flags, forwarding method and weight).
"""

from __future__ import annotations

from shlex import quote

from netlab.model.plan import AddIpvsService

FORWARDING = {"dr": "-g", "tun": "-i", "nat": "-m"}
"""Forwarding method → ipvsadm option: gatewaying (direct routing), ipip (tunnel), masquerading (NAT)."""
PROTOCOL = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}
SCHED_FLAGS = ("sh-fallback", "sh-port")
"""Flags ipvsadm takes as ``-b``; ``onepacket`` is its own option, ``-o``."""


def _host(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}" if port else host


def service_option(action: AddIpvsService) -> str:
    """How ipvsadm names the virtual service: ``-t VIP:PORT`` (or ``-u``, ``--sctp-service``) or ``-f MARK``."""
    if action.fwmark is not None:
        return f"-f {action.fwmark}" + (" -6" if action.family == 6 else "")
    return f"{PROTOCOL[action.protocol]} {_host(action.vip or '', action.port)}"


def commands(action: AddIpvsService) -> list[str]:
    """The export hook (netlab.features.base.Feature.export): the service, then each real server."""
    run = f"ip netns exec {quote(action.netns)} ipvsadm"
    svc = service_option(action)
    options = f" -s {action.scheduler}"
    if action.persistence:
        options += f" -p {action.persistence}"
    if "onepacket" in action.flags:
        options += " -o"
    flags = [f for f in action.flags if f in SCHED_FLAGS]
    if flags:
        options += f" -b {','.join(flags)}"
    lines = [f"# {action.name}: {action.describe()}", f"{run} -A {svc}{options}"]
    for dest in action.dests:
        lines.append(f"{run} -a {svc} -r {_host(dest.address, dest.port)} {FORWARDING[dest.mode]} -w {dest.weight}"
                     f"  # {dest.node}")
    return lines
