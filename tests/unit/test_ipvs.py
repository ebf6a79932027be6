"""IPVS in the topology: validation, the settings each role needs (with reasons), the plan. No kernel."""

from __future__ import annotations

import pytest

from netlab.features.ipvs.derive import DerivedSetting
from netlab.model.plan import AddAddress, AddIpvsService, AddRoute, LinkUp, SetSysctl
from netlab.requirements import derive as requirements
from tests import helpers
from tests.helpers import REPO, Built, build, director_lab, valid

BASE = director_lab()


def lab(ipvs: str, base: str = BASE) -> Built:
    """The base lab with this ``ipvs:`` list, through every pure stage."""
    return build(base + "ipvs:\n" + ipvs, "t.yml")


def problems(ipvs: str, base: str = BASE) -> list[tuple[str, str]]:
    return [(d.path, d.message) for d in helpers.problems(base + "ipvs:\n" + ipvs, "t.yml")]


def settings(built: Built, node: str) -> dict[tuple[str, str], DerivedSetting]:
    return {(d.kind, d.target): d for d in built.resolved.node(node).derived}


DR = """  - {director: director, vip: 10.0.10.100, port: 80, scheduler: rr, mode: dr,
     real_servers: [{node: rs1}, {node: rs2, weight: 3}]}
"""


def test_dr_real_server_gets_vip_on_lo_and_arp_sysctls_with_reasons() -> None:
    rs1 = settings(lab(DR), "rs1")
    assert rs1[("address", "10.0.10.100/32")].value == "lo"
    assert rs1[("sysctl", "net.ipv4.conf.all.arp_ignore")].value == "1"
    assert rs1[("sysctl", "net.ipv4.conf.all.arp_announce")].value == "2"
    assert "only the director answers" in rs1[("sysctl", "net.ipv4.conf.all.arp_ignore")].reason
    assert ("link-up", "tunl0") not in rs1  # DR needs no tunnel
    assert ("route", "default") not in rs1  # DR replies go the node's own way


def test_director_holds_the_vip_on_the_interface_whose_subnet_contains_it() -> None:
    director = settings(lab(DR), "director")
    vip = director[("address", "10.0.10.100/32")]
    assert vip.value == "eth2" and "answers ARP" in vip.reason
    assert ("sysctl", "net.ipv4.ip_forward") not in director  # DR does not route


def test_vip_outside_every_subnet_goes_on_lo() -> None:
    director = settings(lab(DR.replace("10.0.10.100", "192.0.2.100")), "director")
    assert director[("address", "192.0.2.100/32")].value == "lo"


def test_nat_director_forwards_and_real_servers_route_back_through_it() -> None:
    built = lab("  - {director: director, vip: 10.0.1.100, port: 80, mode: nat, real_servers: [{node: rs1}]}\n")
    assert settings(built, "director")[("sysctl", "net.ipv4.ip_forward")].value == "1"
    route = settings(built, "rs1")[("route", "default")]
    assert route.value == "10.0.10.2" and "rewritten" in route.reason
    assert ("sysctl", "net.ipv4.conf.all.arp_ignore") not in settings(built, "rs1")


def test_tun_real_server_raises_tunl0_and_relaxes_rp_filter() -> None:
    built = lab("  - {director: director, vip: 10.0.10.100, port: 80, mode: tun,\n"
               "     real_servers: [{node: far}]}\n")
    far = settings(built, "far")
    assert ("link-up", "tunl0") in far
    assert far[("sysctl", "net.ipv4.conf.tunl0.rp_filter")].value == "0"
    assert far[("sysctl", "net.ipv4.conf.all.rp_filter")].value == "0"
    assert settings(built, "director")[("sysctl", "net.ipv4.conf.all.send_redirects")].value == "0"
    assert "tunl0" in {r.feature for r in requirements(built.topology)}


def test_a_value_the_topology_sets_overrides_the_derived_one() -> None:
    base = BASE.replace("  rs1: {}", "  rs1: {sysctls: {net.ipv4.conf.all.arp_ignore: 0}}")
    built = lab(DR, base)
    derived = settings(built, "rs1")[("sysctl", "net.ipv4.conf.all.arp_ignore")]
    assert derived.overridden
    sysctls = [(a.key, a.value) for a in built.plan.actions
               if isinstance(a, SetSysctl) and a.netns == "nl-t.rs1"]
    assert ("net.ipv4.conf.all.arp_ignore", "0") in sysctls and ("net.ipv4.conf.all.arp_ignore", "1") not in sysctls


def test_plan_carries_reasons_and_the_service() -> None:
    p = lab(DR).plan
    (svc,) = [a for a in p.actions if isinstance(a, AddIpvsService)]
    assert (svc.netns, svc.vip, svc.port, svc.scheduler) == ("nl-t.director", "10.0.10.100", 80, "rr")
    assert [(d.node, d.address, d.port, d.weight, d.mode) for d in svc.dests] == [
        ("rs1", "10.0.10.11", 80, 1, "dr"), ("rs2", "10.0.10.12", 80, 3, "dr")]
    vip_adds = [a for a in p.actions if isinstance(a, AddAddress) and a.address == "10.0.10.100/32"]
    assert all(a.reason for a in vip_adds) and len(vip_adds) == 3
    # the VIP comes after the director's own address on that interface: it must not become primary
    director_adds = [a.address for a in p.actions if isinstance(a, AddAddress) and a.netns == "nl-t.director"
                     and a.name == "eth2"]
    assert director_adds == ["10.0.10.2/24", "10.0.10.100/32"]
    assert p.to_dict()["actions"][-1]["action"] == "add_ipvs_service"


def test_tunl0_is_raised_by_name_without_a_tag() -> None:
    built = lab("  - {director: director, vip: 10.0.10.100, port: 80, mode: tun, real_servers: [{node: far}]}\n")
    ups = [a for a in built.plan.actions if isinstance(a, LinkUp) and a.name == "tunl0"]
    assert [(a.index, a.alias) for a in ups] == [(0, "")]


def test_nat_route_back_is_a_planned_route() -> None:
    built = lab("  - {director: director, vip: 10.0.1.100, port: 80, mode: nat, real_servers: [{node: rs2}]}\n")
    routes = [a for a in built.plan.actions if isinstance(a, AddRoute) and a.netns == "nl-t.rs2"]
    assert [(r.to, r.via) for r in routes] == [("default", "10.0.10.2")] and routes[0].reason


def test_requirements_name_the_scheduler_module() -> None:
    features = [r.feature for r in requirements(lab(DR.replace("rr", "wrr")).topology)]
    assert "ip_vs" in features and "ip_vs_wrr" in features


@pytest.mark.parametrize(("ipvs", "expected"), [
    ("  - {director: ghost, vip: 10.0.10.100, port: 80, real_servers: [{node: rs1}]}\n",
     ("ipvs[0].director", "unknown node 'ghost'")),
    ("  - {director: director, port: 80, real_servers: [{node: rs1}]}\n",
     ("ipvs[0]", "a virtual service needs exactly one of `vip` (with `port`) or `fwmark`")),
    ("  - {director: director, vip: 10.0.10.100, real_servers: [{node: rs1}]}\n",
     ("ipvs[0]", "a VIP service needs `port`")),
    ("  - {director: director, vip: 10.0.10.100, port: 80, real_servers: [{node: rs9}]}\n",
     ("ipvs[0].real_servers[0].node", "unknown node 'rs9'")),
    ("  - {director: director, vip: 10.0.10.100, port: 80, mode: dr, real_servers: [{node: rs1, port: 8080}]}\n",
     ("ipvs[0].real_servers[0].port", "DR cannot change the port (80 → 8080)")),
    ("  - {director: director, vip: 10.0.10.100, port: 80, mode: dr, real_servers: [{node: away}]}\n",
     ("ipvs[0].real_servers[0].node", "away shares no subnet with director director (dr)")),
    ("  - {director: director, vip: 10.0.10.100, port: 80, scheduler: rr, flags: [sh-port],"
     " real_servers: [{node: rs1}]}\n",
     ("ipvs[0].flags", "sh-fallback and sh-port are flags of the sh scheduler")),
    ("  - {director: director, vip: 10.0.10.100, port: 80, scheduler: fastest, real_servers: [{node: rs1}]}\n",
     ("ipvs[0].scheduler", None)),
])
def test_ipvs_mistakes(ipvs: str, expected: tuple[str, str | None]) -> None:
    found = problems(ipvs)
    path, message = expected
    assert path in [p for p, _ in found], found
    if message is not None:
        assert (path, message) in found, found


def test_nat_to_a_routed_real_server_needs_a_route_on_the_director() -> None:
    """A NAT real server behind a router (kube-proxy's pod on another node) is valid once the director has a
    topology route to it; without one it is the shared-subnet mistake it always was."""
    nat = "  - {director: director, vip: 10.0.10.100, port: 80, mode: nat, real_servers: [{node: away}]}\n"
    assert ("ipvs[0].real_servers[0].node", "away shares no subnet with director director (nat)") in problems(nat)
    assert valid((REPO / "topologies" / "k8s-service.yml").read_text())


def test_tun_across_a_router_is_fine_where_dr_is_not() -> None:
    assert lab("  - {director: director, vip: 10.0.10.100, port: 80, mode: tun, real_servers: [{node: away}]}\n")


def test_a_fwmark_service_is_sent_with_a_netmask() -> None:
    """The kernel answers EINVAL to a new service without IPVS_SVC_ATTR_NETMASK; pyroute2 adds one only
    when the service has an address, so a firewall-mark service must bring its own."""
    from netlab.features.ipvs.kernel import _service_fields

    built = lab("  - {director: director, fwmark: 1, scheduler: dh, real_servers: [{node: rs1}]}\n")
    (svc,) = [a for a in built.plan.actions if isinstance(a, AddIpvsService)]
    assert _service_fields(svc) == {"fwmark": 1, "af": 2, "netmask": "255.255.255.255"}


def test_a_dr_real_servers_arp_sysctls_are_written_before_its_vip_exists() -> None:
    """The order arp-sysctls teaches: a VIP on lo before arp_ignore/arp_announce is a window in which the real
    server answers who-has for it and announces it; netlab's plan writes every sysctl of a node first."""
    actions = list(lab(DR).plan.actions)
    sysctls = [i for i, a in enumerate(actions) if isinstance(a, SetSysctl) and a.netns == "nl-t.rs1"
               and "arp_" in a.key]
    vip = [i for i, a in enumerate(actions) if isinstance(a, AddAddress) and a.netns == "nl-t.rs1"
           and a.address == "10.0.10.100/32"]
    assert sysctls and vip and max(sysctls) < min(vip)
