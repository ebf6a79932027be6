"""The IPVS feature's hooks: virtual services on a director, real servers behind it, and what each role needs.

Each hook adapts a stage's context to this package: :mod:`.checks` (validate), :mod:`.derive` (resolve and
the derived settings), :mod:`.kernel` (apply, through pyroute2's IPVS API).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netlab.core.derived import DerivedSetting
from netlab.core.diagnostics import PathKey
from netlab.core.facts import NodeFacts
from netlab.core.kernel_limits import DEFAULT_MTU
from netlab.core.requirement import Requirement
from netlab.features.base import CheckContext, DiagramPart, Feature, PlanContext, ResolveContext
from netlab.features.ipvs import checks
from netlab.features.ipvs.derive import derive_settings, resolve_services
from netlab.model.plan import Action, AddIpvsService
from netlab.model.resolved import ResolvedLab
from netlab.model.topology import Topology


def tunl0_nodes(topo: Topology) -> set[str]:
    """Real servers in tunnel mode: netlab raises the kernel's ``tunl0`` there (it decapsulates IPIP)."""
    found = set()
    for svc in topo.ipvs:
        if svc is None:
            continue
        for rs in svc.real_servers:
            if rs is not None and (rs.mode or svc.mode) == "tun":
                found.add(rs.node)
    return found


def facts(topo: Topology, names: Mapping[PathKey, str], nodes: dict[str, NodeFacts]) -> None:
    for node in tunl0_nodes(topo):
        if node in nodes:
            nodes[node].add_interface("tunl0", DEFAULT_MTU["tunl0"], [])


def check(ctx: CheckContext) -> None:
    checks.check_services(ctx.topo, ctx.interfaces, ctx.connected, ctx.col)


def check_complete(ctx: CheckContext) -> None:
    checks.check_derived(ctx.topo, ctx.ends, ctx.col)


def requirements(topo: Topology) -> list[Requirement]:
    reqs = []
    for svc in topo.ipvs:
        name = svc.name or (f"{svc.vip}:{svc.port}" if svc.vip else f"fwmark {svc.fwmark}")
        reqs.append(Requirement("ip_vs", f"virtual service {name} is IPVS"))
        # every scheduler is a module of its own (ip_vs_lblc...), checked like any other feature
        reqs.append(Requirement(f"ip_vs_{svc.scheduler}", f"virtual service {name} uses the {svc.scheduler} scheduler"))
        if any((rs.mode or svc.mode) == "tun" for rs in svc.real_servers):
            reqs.append(Requirement("tunl0", f"virtual service {name} forwards in tunnel mode (IPIP to tunl0)"))
    return reqs


def resolve(ctx: ResolveContext) -> Mapping[str, object]:
    return {"ipvs": resolve_services(ctx.topo, ctx.interfaces)}


def derive(ctx: ResolveContext) -> Iterable[DerivedSetting]:
    return derive_settings(ctx.topo, ctx.interfaces)


def plan(lab: ResolvedLab, ctx: PlanContext) -> Iterable[Action]:
    netns_of = {node.name: node.netns for node in lab.nodes}
    return [AddIpvsService(netns_of[svc.director], svc.name, svc.family, svc.protocol, svc.vip, svc.port,
                           svc.fwmark, svc.scheduler, svc.persistence, svc.flags, svc.dests) for svc in lab.ipvs]


def diagram(lab: ResolvedLab) -> DiagramPart:
    """The director (its services and where its VIP is), each real server with its forwarding mode (and the
    VIP on its lo in DR and TUN), and a dotted edge from the director to each real server naming the services."""
    roles: dict[str, str] = {}
    modes: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    edges: dict[tuple[str, str], dict[str, list[str]]] = {}
    for svc in lab.ipvs:
        roles[svc.director] = "IPVS director"
        where = svc.vip if svc.vip is None or ":" not in svc.vip else f"[{svc.vip}]"
        what = f"{where}:{svc.port}/{svc.protocol}" if svc.vip is not None else f"fwmark {svc.fwmark}"
        notes.setdefault(svc.director, []).append(f"{svc.name}: {what} {svc.scheduler}")
        for dest in svc.dests:
            mode = dest.mode.upper()
            if mode not in modes.setdefault(dest.node, []):
                modes[dest.node].append(mode)
            weight = f" w{dest.weight}" if dest.weight != 1 else ""
            via = edges.setdefault((svc.director, dest.node), {})
            via.setdefault(mode, []).append(svc.name + weight)
    for name, found in modes.items():
        roles.setdefault(name, f"real server ({', '.join(found)})")
    for node in lab.nodes:
        if node.name in roles:  # where the VIPs went (derived: on the director's LAN interface, a real server's lo)
            notes.setdefault(node.name, []).extend(f"VIP {d.target} on {d.value}" for d in node.derived
                                                   if d.kind == "address" and not d.overridden)
    labels = {pair: "; ".join(f"{', '.join(names)} ({mode})" for mode, names in via.items())
              for pair, via in edges.items()}
    return DiagramPart(roles, tuple((a, b, label) for (a, b), label in labels.items()),
                       {name: tuple(lines) for name, lines in notes.items()})


FEATURE = Feature(
    name="ipvs",
    facts=facts,
    local_addresses=checks.vips,
    check=check,
    check_complete=check_complete,
    requirements=requirements,
    resolve=resolve,
    derive=derive,
    plan=plan,
    diagram=diagram,
    export="netlab.features.ipvs.export:commands",
)
