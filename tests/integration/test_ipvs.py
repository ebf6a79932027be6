"""The IPVS labs of the catalog, for real, in a kernel with IPVS (the VM in CI): every probe passes (the
kernel selftest's 32-byte echo included; tests/unit/test_probes_ipvs.py checks each lab has it),
``arp-problem`` fails as it should and its documented fix turns it green, ``status --json`` reads the
IPVS table back, and ``down`` leaves nothing behind.

Each lab comes up once per module (one VM CPU, slow imports: this file must stay fast). Its fixture
snapshots the root namespace -- links, addresses, routes, the sysctls IPVS labs touch, the IPVS table
-- before ``up`` and compares after ``down``: a lab works only inside its own namespaces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.pytest_plugin import leftovers
from netlab.stages.record import StateStore
from tests.helpers import netlab, root_snapshot, running

pytestmark = [pytest.mark.root, pytest.mark.kernel("ip_vs", "ip_vs_rr", "ipip", "tunl0")]

ROOT_SYSCTLS = ("net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce", "net/ipv4/conf/all/rp_filter",
                "net/ipv4/conf/default/rp_filter", "net/ipv4/conf/all/send_redirects",
                "net/ipv4/conf/default/send_redirects", "net/ipv4/ip_forward")


def root_state() -> dict[str, object]:
    """The root namespace as an IPVS lab could disturb it: what the shared leak check looks at, plus the
    ARP/rp_filter/redirect sysctls and the IPVS table (IPVS state is per namespace: it must stay empty here)."""
    from netlab.features.ipvs.kernel import read_table

    state: dict[str, object] = dict(root_snapshot())
    for key in ROOT_SYSCTLS:
        state[key] = (Path("/proc/sys") / key).read_text()
    state["ipvs"] = [asdict(s) for s in read_table()]
    return state


def lab_up(name: str) -> Iterator[Lab]:
    """The lab up for a module; after ``down`` (and its leak check) the root namespace is as it was."""
    before = root_state()
    with running(name) as lab:
        yield lab
    assert root_state() == before, f"{name}: the root namespace changed"


@pytest.fixture(scope="module")
def dr_mode() -> Iterator[Lab]:
    yield from lab_up("dr-mode")


@pytest.fixture(scope="module")
def tun_mode() -> Iterator[Lab]:
    yield from lab_up("tun-mode")


@pytest.fixture(scope="module")
def schedulers() -> Iterator[Lab]:
    yield from lab_up("ipvs-schedulers")


@pytest.fixture(scope="module")
def arp_problem() -> Iterator[Lab]:
    yield from lab_up("arp-problem")


def test_dr_mode_probes_pass(dr_mode: Lab) -> None:
    suite = dr_mode.probes()
    assert [str(r) for r in suite.failed] == []


def test_tun_mode_probes_pass(tun_mode: Lab) -> None:
    suite = tun_mode.probes()
    assert [str(r) for r in suite.failed] == []
    results = {r.name: r for r in suite.results}
    assert "first: IPIP 10.0.2.2 > 10.0.3.11 | IP 10.0.1.10." in results["ipip-on-path"].observed  # inner decoded
    assert "+0 packets out" in results["no-outpkts"].observed


@pytest.mark.kernel("ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_lblc", "ip_vs_lblcr")
def test_ipvs_schedulers_probes_pass(schedulers: Lab) -> None:
    suite = schedulers.probes()
    assert [str(r) for r in suite.failed] == []
    observed = {r.name: r.observed for r in suite.results}
    assert "rs1 10 (17%), rs2 20 (33%), rs3 30 (50%)" in observed["wrr-weighted"]
    assert "(with 2 connections held open): rs1 12 (100%)" in observed["lc-avoids-busy"]
    assert "(with 3 connections held open): rs3 12 (100%)" in observed["wlc-per-weight"]
    assert "per destination: 10.0.1.106 → rs1; 10.0.1.107 → rs2; 10.0.1.108 → rs3" in observed["dh-by-destination"]
    assert "(with 2 connections held open): rs2 8 (100%)" in observed["lblc-overloaded"]
    assert "(with 2 connections held open): rs2 8 (100%)" in observed["lblcr-overloaded"]


def test_ipvs_nat_passes_with_netlab_run(tmp_path: Path) -> None:
    """The CLI end to end: up, every probe, down -- with the JUnit report naming each probe."""
    before = root_state()
    r = netlab("run", "ipvs-nat", "--junit", str(tmp_path / "nat.xml"))
    assert r.returncode == 0, r.stdout + r.stderr
    names = [p.name for p in Lab.load("ipvs-nat").topology.probes]
    assert f"{len(names)} of {len(names)} probes passed" in r.stdout
    assert leftovers("ipvs-nat", None, StateStore()) == []
    assert root_state() == before


def test_ipvs_extras_persistence_fwmark_and_a_dead_server(tmp_path: Path) -> None:
    """IPVS checks no health: a third of the requests go to dead rs3 and are refused, until its weight is 0."""
    r = netlab("run", "ipvs-extras", "--json", timeout=300)
    results = {x["name"]: x for x in json.loads(r.stdout)["results"]}
    assert r.returncode == 0, [x["verdict"] for x in results.values() if not x["passed"]]
    assert "(refused) 3 (33%)" in results["with-dead-server"]["observed"]
    assert "(refused)" not in results["drained"]["observed"]
    assert results["sticky-client"]["details"]["servers"] in (["rs1"], ["rs2"])
    assert leftovers("ipvs-extras", None, StateStore()) == []


def test_status_json_reads_the_ipvs_table_back(schedulers: Lab, tun_mode: Lab) -> None:
    r = netlab("status", "ipvs-schedulers", "--json")
    assert r.returncode == 0, r.stderr
    table = {f"{s['address']}:{s['port']}": s for s in json.loads(r.stdout)["ipvs"]["director"]}
    assert {s["scheduler"] for s in table.values()} == {"rr", "wrr", "lc", "wlc", "sh", "dh", "lblc", "lblcr"}
    wrr = table["10.0.1.102:80"]
    assert wrr["scheduler"] == "wrr"
    assert sorted((d["address"], d["port"], d["forward"], d["weight"]) for d in wrr["dests"]) == [
        ("192.168.10.11", 80, "masq", 1), ("192.168.10.12", 80, "masq", 2), ("192.168.10.13", 80, "masq", 3)]
    r = netlab("status", "tun-mode", "--json")
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["ipvs"]["director"]
    assert sorted((s["protocol"], s["address"], s["port"], s["scheduler"]) for s in services) == [
        ("tcp", "10.0.2.100", 80, "rr"), ("tcp", "10.0.2.100", 8080, "rr")]
    assert {(d["address"], d["forward"], d["weight"]) for s in services for d in s["dests"]} == {
        ("10.0.3.11", "tunnel", 1), ("10.0.3.12", "tunnel", 1)}


def test_arp_problem_fails_for_the_right_reason_then_its_fix_makes_it_pass(arp_problem: Lab) -> None:
    derived = {(d.node, d.target): d for name in ("rs1", "rs2") for d in arp_problem.resolved.node(name).derived}
    assert derived[("rs1", "net.ipv4.conf.all.arp_ignore")].overridden
    assert derived[("rs2", "net.ipv4.conf.all.arp_announce")].overridden

    broken = {r.name: r for r in arp_problem.probes().results}
    assert broken["selftest-echo"].passed  # the selftest's check cannot see the problem
    arp = broken["arp-only-director"]
    assert not arp.passed and not arp.error
    assert ("answered by 3 MACs: director 02:00:00:00:10:02, rs1 02:00:00:00:10:11, rs2 02:00:00:00:10:12"
            in arp.observed)
    rr = broken["round-robin"]
    assert not rr.passed and "outside the tolerance" in rr.observed
    seen = broken["director-sees-requests"]
    assert not seen.passed and "received on director:eth0" in seen.observed and seen.details["packets"] < 20

    # the fix, as the lab's description gives it
    description = " ".join(arp_problem.topology.description.split())
    assert "rs1 and rs2 `sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`" in description
    assert "`netlab exec arp-problem router -- ip neigh flush all`" in description
    for node in ("rs1", "rs2"):
        r = netlab("exec", "arp-problem", node, "--", "sysctl", "-w", "net.ipv4.conf.all.arp_ignore=1",
                   "net.ipv4.conf.all.arp_announce=2")
        assert r.returncode == 0, r.stdout + r.stderr
    r = netlab("exec", "arp-problem", "router", "--", "ip", "neigh", "flush", "all")
    assert r.returncode == 0, r.stdout + r.stderr

    fixed = arp_problem.probes()
    assert [str(r) for r in fixed.failed] == []
