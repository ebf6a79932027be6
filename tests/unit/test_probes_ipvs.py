"""The probe additions IPVS labs need, without a kernel: distribution over several addresses with held
connections, stickiness per source or destination and a count of serving nodes; counters that read IPVS
statistics; captures on a TUN real server's tunl0. Validation messages, the recorded view, and the pure
logic the probes run on (selecting a service's statistics, judging stickiness)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.features.ipvs.kernel import DestStats, ServiceStats
from netlab.probes import spec
from netlab.probes.connect import _expected_distribution, _stickiness
from netlab.probes.context import IpvsServiceView, LabView
from netlab.probes.counters import CounterError, IpvsSample, select_ipvs
from netlab.probes.model import Amount, CountersProbe, DistributionProbe, IpvsCounter, TcpProbe
from tests import helpers
from tests.helpers import director_lab, lab_from, valid

BASE = director_lab(services=True) + """ipvs:
  - {name: web, director: director, vip: 10.0.10.100, port: 80, scheduler: rr, mode: dr,
     real_servers: [{node: rs1}, {node: rs2, weight: 3}]}
  - {director: director, vip: 10.0.10.100, port: 81, scheduler: rr, mode: tun, real_servers: [{node: far}]}
probes:
  - {name: rr, kind: distribution, from: client, to: 10.0.10.100, shares: {rs1: 1, rs2: 1}}
"""


def problems(probes: str) -> list[str]:
    return [f"{d.path}: {d.message}" + (f" | {d.hint}" if d.hint else "") for d in helpers.problems(BASE + probes)]


def test_the_new_keys_parse() -> None:
    topo = valid(BASE + """
  - {name: dh, kind: distribution, from: client, to: [10.0.10.100, 10.0.10.101], sticky: destination,
     servers: {min: 2}}
  - {name: lc, kind: distribution, from: client, to: 10.0.10.100, hold: 2, servers: 1}
  - {name: out, kind: counters, node: director, during: rr, ipvs: {service: web, direction: out}, packets: 0,
     connections: 20}
  - {name: rs2-in, kind: counters, node: director, during: rr, ipvs: {service: web, dest: rs2}, bytes: {min: 1}}
  - {name: inner, kind: capture, during: rr, at: far:tunl0, filter: tcp dst port 81, packets: {min: 1}}
""")
    rr, dh, lc, out, rs2_in, _inner = topo.probes
    assert isinstance(rr, DistributionProbe) and rr.to == ("10.0.10.100",) and rr.sticky is False
    assert isinstance(dh, DistributionProbe) and dh.sticky == "destination" and dh.servers == Amount(min=2)
    assert isinstance(lc, DistributionProbe) and lc.hold == 2 and lc.servers == Amount(min=1, max=1)
    assert isinstance(out, CountersProbe) and out.ipvs == IpvsCounter(service="web", direction="out")
    assert out.connections == Amount(min=20, max=20) and out.packets == Amount(min=0, max=0)
    assert isinstance(rs2_in, CountersProbe) and rs2_in.ipvs is not None and rs2_in.ipvs.direction == "in"


def test_cross_references_of_the_new_keys() -> None:
    found = problems("""
  - {name: a, kind: distribution, from: client, to: [10.0.10.100, nope], shares: {rs1: 1}}
  - {name: b, kind: distribution, from: client, to: 10.0.10.100, sticky: destination}
  - {name: c, kind: counters, node: rs1, during: rr, ipvs: {service: wbe, dest: rs1}, packets: 1}
  - {name: d, kind: counters, node: rs1, during: rr, ipvs: {service: web, dest: far}, table: nat, rule: x}
  - {name: e, kind: counters, node: director, during: rr, ipvs: {service: "10.0.10.100:81/tcp"}}
  - {name: f, kind: counters, node: director, during: rr, chain: INPUT, connections: 1, packets: 1}
  - {name: g, kind: capture, during: rr, at: [far:tunl0, rs1:tunl0], filter: tcp, packets: 1}
""")
    assert found == [
        "probes[1].to[1]: 'nope' is not an IP address | a single address without prefix: 10.0.2.10 or 2001:db8::10",
        "probes[2].sticky: `sticky: destination` with a single `to` address proves nothing | give `to` a list of "
        "addresses (destination hashing maps each to one node)",
        "probes[3].ipvs.service: no IPVS service named 'wbe' | did you mean 'web'?",
        "probes[4]: a counters probe needs `packets`, `bytes` and/or `connections` | e.g. connections: 20",
        "probes[4].ipvs.dest: 'far' is not a real server of 'web' | its real servers: rs1, rs2",
        "probes[4].node: IPVS service 'web' runs on 'director', not 'rs1' | node: director (IPVS statistics live "
        "in the director's namespace)",
        "probes[4].rule: `rule` selects an iptables rule; this probe reads IPVS statistics | remove it, or remove "
        "`ipvs`",
        "probes[4].table: `table` selects an iptables rule; this probe reads IPVS statistics | remove it, or remove "
        "`ipvs`",
        "probes[5]: a counters probe needs `packets`, `bytes` and/or `connections` | e.g. connections: 20",
        "probes[6].connections: only IPVS counts connections | add `ipvs: {service: NAME}`, or count "
        "`packets`/`bytes` of the rule",
        "probes[7].at[1]: node 'rs1' has no interface 'tunl0' | its interfaces: eth0, lo",
    ]


def test_the_recorded_lab_knows_its_ipvs_services(tmp_path: Path) -> None:
    view = LabView.from_resolved(lab_from(tmp_path, BASE).resolved)
    assert view.ipvs["web"] == IpvsServiceView("web", "director", "tcp", "10.0.10.100", 80, None,
                                               (("rs1", "10.0.10.11", 80), ("rs2", "10.0.10.12", 80)))
    assert view.ipvs["10.0.10.100:81/tcp"].dests == (("far", "10.0.9.2", 81),)


def _dest(address: str, port: int, conns: int, outpkts: int = 0) -> DestStats:
    return DestStats(address, port, "route", 1, 0, 0, conns, conns * 5, outpkts, rates=(1, 2, 3, 4, 5))


def test_select_ipvs_finds_the_service_or_its_real_server() -> None:
    table = [ServiceStats("tcp", "10.0.10.100", 81, 0, "rr", 0, 7, 35, 0, (_dest("10.0.9.2", 81, 7),)),
             ServiceStats("tcp", "10.0.10.100", 80, 0, "rr", 0, 20, 100, 0,
                          (_dest("10.0.10.12", 80, 12), _dest("10.0.10.11", 80, 8)), inbytes=900)]
    web = IpvsServiceView("web", "director", "tcp", "10.0.10.100", 80, None,
                          (("rs1", "10.0.10.11", 80), ("rs2", "10.0.10.12", 80)))
    assert select_ipvs(table, web, None) == IpvsSample("IPVS service web", 20, 100, 0, 900, 0, (0, 0, 0, 0, 0))
    rs1 = select_ipvs(table, web, "rs1")
    assert (rs1.what, rs1.conns, rs1.packets("in"), rs1.packets("out")) == ("IPVS service web → rs1 (10.0.10.11)",
                                                                           8, 40, 0)
    with pytest.raises(CounterError, match=re.escape("director has no IPVS service 10.0.10.100:8080/tcp")):
        select_ipvs(table, IpvsServiceView("x", "director", "tcp", "10.0.10.100", 8080, None, ()), None)
    fwm = IpvsServiceView("dh", "director", "tcp", None, 0, 1, (("rs1", "10.0.10.11", 0),))
    with pytest.raises(CounterError, match="has no IPVS service fwmark 1"):
        select_ipvs(table, fwm, "rs1")


def test_stickiness_per_source_or_destination() -> None:
    served = [("10.0.1.10", "10.0.1.106", "rs1"), ("10.0.1.10", "10.0.1.107", "rs2"),
              ("10.0.1.10", "10.0.1.106", "rs1"), ("10.0.1.10", "10.0.1.107", "rs2")]
    dh = DistributionProbe(kind="distribution", name="dh", from_="c", to=("10.0.1.106", "10.0.1.107"),
                           sticky="destination")
    ok, text, per = _stickiness(dh, served)
    assert ok and text == "; per destination: 10.0.1.106 → rs1; 10.0.1.107 → rs2"
    assert per == {"10.0.1.106": {"rs1": 2}, "10.0.1.107": {"rs2": 2}}
    sh = dh.model_copy(update={"sticky": True})
    ok, text, _per = _stickiness(sh, served)
    assert not ok and text == "; not sticky: from 10.0.1.10: rs1 2, rs2 2"


def test_what_a_distribution_expects_in_words() -> None:
    lc = spec.DistributionProbe(kind="distribution", name="lc", from_="c", to=("10.0.1.103",), hold=2,
                                shares={"rs1": 1}, tolerance=0)
    assert _expected_distribution(lc, {"rs1": 1.0}) == "with 2 connections held open; rs1 100% (±0 points)"
    sh = spec.DistributionProbe(kind="distribution", name="sh", from_="c", to=("10.0.1.105",), sticky="source",
                                servers=spec.Amount(min=2))
    assert _expected_distribution(sh, {}) == "each source served by one node only; served by at least 2 nodes"


@pytest.mark.parametrize("name", ["dr-mode", "ipvs-nat", "tun-mode", "arp-problem", "ipvs-schedulers"])
def test_every_ipvs_lab_runs_the_kernel_selftest_check(name: str) -> None:
    """ipvs.sh's own success criterion, in every IPVS catalog lab: 32 random bytes over TCP to VIP:port come
    back intact (its probes run in tests/integration/test_ipvs.py)."""
    topo = Lab.load(name).topology
    checks = [p for p in topo.probes if isinstance(p, TcpProbe) and p.bytes == 32]
    assert [p.name for p in checks] == ["selftest-echo"]
    vips = {svc.vip for svc in topo.ipvs}
    assert checks[0].to in vips and checks[0].port == 8080
