"""Probes and services end to end, as root, on this kernel: every probe kind both ways (a probe that
should pass passes; one that should fail fails and says why), services started, logged and stopped,
the CLI verbs ``probe`` and ``run``, and the pytest plugin.

Labs here are copies of the catalog labs under other names (other test suites may be using
``routed`` at the same time), extended with probes that must fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.model.resolved import ResolvedLab
from netlab.pytest_plugin import leftovers
from netlab.stages.record import LabState, ProcessRecord, StateStore, process_start_time
from tests.helpers import REPO, catalog_copy, down, netlab, running, two_nodes, up, write_lab

pytestmark = pytest.mark.root

ROUTED_FAILING = """
  - {name: bad-ping, kind: ping, from: client, to: 10.0.3.1, count: 2}
  - {name: bad-icmp-error, kind: ping, from: client, to: 10.0.3.1, count: 1, loss: 100, error: host unreachable}
  - {name: bad-link-counter, kind: counters, node: router, interface: eth1, during: client-ping, packets: 0}
  - {name: link-counter, kind: counters, node: router, interface: eth1, during: client-ping, packets: {min: 3}}
  - {name: bad-tcp, kind: tcp, from: client, to: 10.0.2.10, port: 9}
  - {name: refused-as-expected, kind: tcp, from: client, to: 10.0.2.10, port: 9, expect: refused}
  - {name: bad-udp, kind: udp, from: client, to: 10.0.2.10, port: 9}
  - {name: bad-http, kind: http, from: client, to: 10.0.2.10, served_by: router}
  - {name: bad-capture, kind: capture, during: client-ping, at: router:eth0, filter: icmp, packets: 0}
  - name: bad-match
    kind: capture
    during: client-to-server
    at: server:eth0
    filter: tcp port 7
    match: {IP.src: 10.0.2.1}
    packets: {min: 1}
  - {name: bad-arp, kind: arp, from: router, interface: eth1, to: 10.0.2.99, timeout: 0.1}
  - {name: bad-sysctl, kind: sysctl, node: router, key: net.ipv4.ip_forward, value: 0}
  - {name: bad-state, kind: state, node: client, command: ip route get 10.0.2.10, contains: via 10.9.9.9}
"""

FIREWALLED_FAILING = """
  - {name: bad-echo, kind: tcp, from: client, to: 10.0.2.10, port: 7, timeout: 0.3}
  - {name: bad-counter, kind: counters, node: router, during: bad-echo, rule: block echo, packets: 0}
  - {name: bad-rule, kind: counters, node: router, during: bad-echo, rule: no such rule, packets: 0}
"""

MULTI = """name: pt-multi
description: a router DNATs one address to two real servers in turn; both servers own 10.0.2.200
nodes:
  client:
    routes: [{to: default, via: 10.0.1.1}]
  router:
    sysctls: {net.ipv4.ip_forward: 1}
    routes: [{to: 192.0.2.100/32, via: 10.0.2.11}]
    commands:
      - |
        iptables-restore <<'EOF'
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -d 10.0.2.100 -p tcp -m statistic --mode nth --every 2 --packet 0 -j DNAT --to 10.0.2.11
        -A PREROUTING -d 10.0.2.100 -p tcp -j DNAT --to 10.0.2.12
        COMMIT
        EOF
  rs1:
    loopback: [10.0.2.200/32, 192.0.2.100/32]
    routes: [{to: default, via: 10.0.2.1}]
    services:
      - {kind: http}
      - {name: vip-web, kind: http, address: 192.0.2.100, port: 8080}
  rs2:
    loopback: 10.0.2.200/32
    routes: [{to: default, via: 10.0.2.1}]
    services:
      - {kind: http}
      - {name: elsewhere, kind: tcp-echo, address: 198.51.100.7, port: 8080}
links:
  - a: {node: client, address: 10.0.1.10/24}
    b: {node: router, address: 10.0.1.1/24}
lans:
  seg:
    members:
      - {node: router, address: 10.0.2.1/24}
      - {node: rs1, address: 10.0.2.11/24}
      - {node: rs2, address: 10.0.2.12/24}
probes:
  - {name: two-owners, kind: arp, from: router, to: 10.0.2.200, answered_by: [rs1, rs2], timeout: 0.1}
  - {name: fail-one-owner, kind: arp, from: router, to: 10.0.2.200, answered_by: rs1, timeout: 0.1}
  - {name: fail-one-answer, kind: arp, from: router, to: 10.0.2.200, timeout: 0.1}
  - {name: vip-on-lo, kind: http, from: client, to: 192.0.2.100, port: 8080, served_by: rs1}
  - {name: unowned-bind, kind: state, node: rs2, command: ss -ltn, contains: "198.51.100.7:8080"}
  - {name: rr-even, kind: distribution, from: client, to: 10.0.2.100, requests: 20, shares: {rs1: 1, rs2: 1}}
  - {name: fail-wrr, kind: distribution, from: client, to: 10.0.2.100, requests: 20, shares: {rs1: 3, rs2: 1}}
  - {name: fail-sticky, kind: distribution, from: client, to: 10.0.2.100, requests: 10, sticky: true}
  - {name: sticky-direct, kind: distribution, from: client, to: 10.0.2.11, requests: 5, sticky: true}
  - {name: dnat-counted, kind: counters, node: router, table: nat, during: rr-even, rule: "--packet 0", packets: 10}
"""


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running(catalog_copy(tmp_path_factory.mktemp("routed"), "routed", "pt-routed", ROUTED_FAILING)) as lab:
        yield lab


@pytest.fixture(scope="module")
def firewalled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running(catalog_copy(tmp_path_factory.mktemp("fw"), "firewalled", "pt-fw", FIREWALLED_FAILING)) as lab:
        yield lab


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running(write_lab(tmp_path_factory.mktemp("multi"), MULTI)) as lab:
        yield lab


def catalog_probe_names(name: str) -> list[str]:
    return [p.name for p in Lab.load(name).topology.probes]


# ------------------------------------------------------------------------------ both verdicts per kind

def test_every_catalog_probe_of_routed_passes(routed: Lab) -> None:
    suite = routed.probes(catalog_probe_names("routed"))
    assert [str(r) for r in suite.failed] == []
    assert {r.kind for r in suite.results} >= {"ping", "tcp", "udp", "http", "capture", "arp", "sysctl", "state"}
    assert suite.seconds < 5


@pytest.mark.parametrize(("name", "says"), [
    # (the router answers the first with ICMP network unreachable; the kernel rate-limits the next ones)
    ("bad-ping", "2 echo requests from client to 10.0.3.1: 0 answered (100% loss)"),
    ("bad-icmp-error", "1 'network unreachable' from 10.0.1.1; expected no echo answered (100% loss), every "
                       "unanswered request answered by ICMP 'host unreachable'"),
    ("bad-link-counter", "tx_packets of router:eth1 grew by "),
    ("bad-tcp", "refused (RST)"),
    ("bad-udp", "ICMP port unreachable"),
    ("bad-http", "served by server; expected HTTP 200 for GET / from 10.0.2.10:80, served by router"),
    ("bad-capture", "6 packets 'icmp' on router:eth0 (router:eth0 3 in/3 out)"),
    ("bad-match", "0 packets 'tcp port 7' with IP.src=10.0.2.1"),
    ("bad-arp", "no answer within 0.1 s; expected exactly 1 MAC answering"),
    ("bad-sysctl", "net.ipv4.ip_forward = 1 in router; expected net.ipv4.ip_forward = 0"),
    ("bad-state", "printed: 10.0.2.10 via 10.0.1.1"),
])
def test_a_probe_that_should_fail_fails_and_says_why(routed: Lab, name: str, says: str) -> None:
    result = routed.probe(name)
    assert not result.passed
    assert not result.error, result.verdict  # a wrong lab, not a broken probe
    assert says in result.verdict


def test_an_interface_counts_what_it_sent(routed: Lab) -> None:
    result = routed.probe("link-counter")
    assert result.passed, result.verdict
    assert result.details["grew"] >= 3 and result.details["counter"] == "tx_packets"


def test_expecting_a_refusal_passes_on_a_refusal(routed: Lab) -> None:
    result = routed.probe("refused-as-expected")
    assert result.passed, result.verdict


def test_failed_probe_keeps_its_pcap(routed: Lab) -> None:
    from scapy.all import TCP, rdpcap

    result = routed.probe("bad-tcp")
    assert result.pcaps and all(Path(p).is_file() for p in result.pcaps)
    assert Path(result.pcaps[0]).parent == routed.store.logs_dir / "pt-routed" / "pcap"
    flags = [str(p[TCP].flags) for p in rdpcap(result.pcaps[0]) if TCP in p]
    assert "S" in flags and "RA" in flags  # the SYN and the RST that refused it


def test_firewalled_drop_is_proved_and_a_tcp_probe_fails(firewalled: Lab) -> None:
    suite = firewalled.probes(catalog_probe_names("firewalled"))
    assert [str(r) for r in suite.failed] == []
    echo = firewalled.probe("bad-echo")
    assert not echo.passed and "no answer to the connection request (SYN) to 10.0.2.10:7 within 0.3 s" in echo.verdict
    counter = firewalled.probe("bad-counter")
    assert not counter.passed and "counted +1 packet" in counter.observed and "exactly 0 packets" in counter.expected
    bad_rule = firewalled.probe("bad-rule")
    assert not bad_rule.passed and bad_rule.error and "no rule in table filter contains 'no such rule'" in \
        bad_rule.observed


def test_arp_reports_every_answering_mac(multi: Lab) -> None:
    assert multi.probe("two-owners").passed
    one = multi.probe("fail-one-owner")
    assert not one.passed
    assert "ARP who-has 10.0.2.200 from router:eth1 answered by 2 MACs: rs1 " in one.observed
    assert ", rs2 " in one.observed and one.expected == "only rs1"
    assert not multi.probe("fail-one-answer").passed


def test_distribution_shares_and_stickiness(multi: Lab) -> None:
    even = multi.probe("rr-even")
    assert even.passed, even.verdict
    assert "rs1 10 (50%), rs2 10 (50%)" in even.observed
    wrr = multi.probe("fail-wrr")
    assert not wrr.passed and "outside the tolerance: rs1 50% instead of 75%, rs2 50% instead of 25%" in wrr.observed
    sticky = multi.probe("fail-sticky")
    assert not sticky.passed and "not sticky: from 10.0.1.10: rs1 5, rs2 5" in sticky.observed
    assert multi.probe("sticky-direct").passed


def test_counters_see_each_dnat(multi: Lab) -> None:
    result = multi.probe("dnat-counted")
    assert result.passed, result.verdict


# ------------------------------------------------------------------------------ services

def test_services_bind_a_vip_on_lo_and_an_address_nobody_owns(multi: Lab) -> None:
    assert multi.probe("vip-on-lo").passed
    assert multi.probe("unowned-bind").passed


def test_services_are_recorded_logged_and_see_the_client(routed: Lab) -> None:
    state = routed.store.read("pt-routed")
    assert state is not None
    assert sorted(p.what.split(":")[0] for p in state.processes) == [
        "service http", "service tcp-echo", "service udp-echo"]
    assert all(process_start_time(p.pid) == p.start_time for p in state.processes)
    assert routed.probe("client-to-server").passed
    log = (routed.store.logs_dir / "pt-routed" / "server.tcp-echo.log").read_text()
    assert "listening on tcp 0.0.0.0:7" in log
    assert "10.0.1.10:" in log and "-> 10.0.2.10:7 32 bytes echoed" in log


def test_a_service_that_cannot_listen_fails_up_and_leaves_nothing(tmp_path: Path) -> None:
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    # the command returns once socat listens: services start right after the commands, and in 15 ms they bound
    # port 80 before a socat merely started in the background did (up passed, socat failed)
    path = write_lab(tmp_path, two_nodes(name="pt-busy", a="\n    commands: ['socat TCP-LISTEN:80,reuseaddr,fork "
                                         "SYSTEM:true </dev/null >/dev/null 2>&1 & for i in $(seq 500); do "
                                         "ss -Hltn sport = :80 | grep -q . && break; sleep 0.01; done']"
                                         "\n    services: [{kind: http}]"))
    r = netlab("up", str(path))
    assert r.returncode == 1
    assert "start service http on tcp 0.0.0.0:80 in a` failed: cannot listen on tcp 0.0.0.0:80: Address already in " \
           "use" in r.stderr
    assert "log: /run/netlab/logs/pt-busy/a.http.log" in r.stderr
    assert leftovers("pt-busy", None, StateStore()) == []


def test_down_stops_services(tmp_path: Path) -> None:
    lab = up(catalog_copy(tmp_path, "routed", "pt-svc"))
    state = lab.store.read("pt-svc")
    assert state is not None and len(state.processes) == 3
    down(lab)


def test_leak_check_reports_a_live_recorded_process() -> None:
    me = os.getpid()
    state = LabState(lab="pt-none", run="x", status="up", source="", topology_sha256="", owner_pid=me,
                     owner_start=0, created=0.0, namespaces=(),
                     resolved=ResolvedLab("pt-none", "", "", False, (), (), ()),
                     processes=(ProcessRecord(me, process_start_time(me) or 0, "n", "service x"),))
    assert leftovers("pt-none", state, StateStore()) == [f"process {me} in n (service x)"]


# ------------------------------------------------------------------------------ CLI

def test_cli_probe_json_junit_pcap_and_exit_codes(routed: Lab, tmp_path: Path) -> None:
    ok = netlab("probe", "pt-routed", "--only", "client-ping", "--only", "web", "--json", "--pcap", str(tmp_path / "p"),
                "--junit", str(tmp_path / "ok.xml"))
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert [r["name"] for r in data["results"]] == ["client-ping", "web"] and data["passed"]
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["client-ping.client.pcap", "web.client.pcap"]
    bad = netlab("probe", "pt-routed", "--only", "web", "--only", "bad-http", "--junit", str(tmp_path / "bad.xml"))
    assert bad.returncode == 1
    assert "bad-http" in bad.stdout and "FAIL" in bad.stdout and "1 of 2 probes passed" in bad.stdout
    suite = ET.parse(tmp_path / "bad.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='bad-http']/failure")
    assert failure is not None and "expected HTTP 200 for GET / from 10.0.2.10:80, served by router" in \
        failure.get("message", "")
    unknown = netlab("probe", "pt-routed", "--only", "nope")
    assert unknown.returncode == 2 and "has no probe 'nope'" in unknown.stderr
    down = netlab("probe", "pt-not-up")
    assert down.returncode == 3 and "not up" in down.stderr


def test_cli_run_is_up_probes_down(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "firewalled", "pt-run")
    r = netlab("run", str(path), "--junit", str(tmp_path / "run.xml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 of 5 probes passed" in r.stdout
    assert leftovers("pt-run", None, StateStore()) == []
    cases = ET.parse(tmp_path / "run.xml").getroot().findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == catalog_probe_names("firewalled")


# ------------------------------------------------------------------------------ pytest plugin

def test_pytest_plugin_fixture_probes_and_teardown(tmp_path: Path) -> None:
    lab = catalog_copy(tmp_path, "routed", "pt-plug", ROUTED_FAILING)
    (tmp_path / "test_inner.py").write_text(f'''
def test_passes(netlab_lab):
    lab = netlab_lab("{lab}")
    assert lab.probe("client-to-server").passed


def test_fails_with_the_verdict(netlab_lab):
    lab = netlab_lab("{lab}")
    assert lab.probe("bad-http").passed
''')
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "netlab.pytest_plugin", "-p", "no:cacheprovider",
                        "-q", "test_inner.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 1 passed" in r.stdout
    verdict = "served by server; expected HTTP 200 for GET / from 10.0.2.10:80, served by router"
    assert f"<ProbeResult bad-http: FAIL: from client: HTTP 200 from 10.0.2.10:80, {verdict}>" in r.stdout
    assert "netlab probes" in r.stdout and "pcap: /run/netlab/logs/pt-plug/pcap/bad-http.client.pcap" in r.stdout
    assert "left things behind" not in r.stdout
    assert leftovers("pt-plug", None, StateStore()) == []
