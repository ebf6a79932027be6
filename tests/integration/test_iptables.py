"""iptables labs end to end, as root, on this kernel: every iptables catalog lab comes up and its probes
pass (through the API and ``netlab run``), ``status`` reads the rules and counters back, a bad rule makes
``up`` fail with the topology's file:line and iptables' own words and leaves nothing behind, and a load
that fails after a table was committed leaves the node with no rule of its ruleset.

The labs run under other names (``it-…``), so other suites may use the catalog names at the same time.
The same labs in the full-kernel VM (where only iptables-legacy works): tests/integration/test_full_kernel.py
is for IPVS; for iptables run ``netlab vm run iptables-chains`` (see docs/topology.md, iptables).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.errors import ApplyError
from netlab.features.iptables.kernel import detect_backend, load, parse_save
from netlab.model.plan import LoadIptables
from tests.helpers import REPO, catalog_copy, netlab, netns_of, running, write_lab

pytestmark = pytest.mark.root

LABS = ("iptables-chains", "bridge-nat", "firewalled")


@pytest.fixture(scope="module", params=LABS)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    name = f"it-{request.param}"[:24]
    with running(catalog_copy(tmp_path_factory.mktemp(request.param), request.param, name)) as loaded:
        yield loaded


def test_every_probe_of_the_lab_passes(lab: Lab) -> None:
    suite = lab.probes()
    assert [str(r) for r in suite.failed] == []
    assert len(suite.results) >= 5


def test_status_shows_every_rule_with_its_counters_and_the_lab_comment(lab: Lab) -> None:
    done = netlab("status", lab.name, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    nodes = [n for n in lab.resolved.nodes if n.iptables]
    assert sorted(data["iptables"]) == sorted(n.name for n in nodes)
    for node in nodes:
        read = data["iptables"][node.name]
        assert read["error"] == ""
        ours = [r for r in read["rules"] if f'"netlab:{lab.name}' in r["rule"]]
        assert len(ours) == sum(len(t.rules) for t in node.iptables)  # every rule loaded, each with the comment
        assert all(isinstance(r["packets"], int) for r in ours)
    text = netlab("status", lab.name)
    assert text.returncode == 0 and f"iptables on {nodes[0].name}" in text.stdout


def test_chains_lab_proves_the_hooks() -> None:
    """iptables-chains by the numbers: three paths, 14 chains each (42 counters), and 3 for one connection."""
    text = (REPO / "topologies" / "iptables-chains.yml").read_text()
    assert text.count("kind: counters") == 45
    assert text.count("-p icmp --icmp-type echo-request") == 14


BAD = """name: it-bad-rule
nodes:
  r:
    iptables:
      nat:
        rules:
          - "-A POSTROUTING -o eth0 -j MASQUERADE"
      filter:
        rules:
          - "-A INPUT -p tcp --dport 22 -j ACCEPT"
          - "-A INPUT -p tcp --dportx 5 -j DROP"
  s:
links:
  - a: {node: r, address: 10.0.0.1/24}
    b: {node: s, address: 10.0.0.2/24}
"""


def test_a_bad_rule_fails_up_with_file_line_and_iptables_message_and_leaves_nothing(tmp_path: Path) -> None:
    path = write_lab(tmp_path, BAD, "bad-rule.yml")
    done = netlab("up", str(path))
    assert done.returncode == 1
    assert "bad-rule.yml:11: `-A INPUT -p tcp --dportx 5 -j DROP`: unknown option \"--dportx\"" in done.stderr
    assert "none of them is loaded" in done.stderr
    assert netns_of("it-bad-rule") == []


def test_a_load_refused_after_a_commit_leaves_no_half_ruleset(monkeypatch: pytest.MonkeyPatch) -> None:
    """iptables-restore commits table by table: make the nat table load and the filter table fail (by
    skipping --test), and check that the node is left with neither table's rules."""
    import netlab.features.iptables.kernel as kernel

    real_run = kernel.run

    def no_test(argv: list[str], payload: str, preexec: object) -> tuple[int, str]:
        if "--test" in argv:
            return 0, ""
        return real_run(argv, payload, preexec)  # type: ignore[arg-type]

    monkeypatch.setattr(kernel, "run", no_test)
    payload = ("# t\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
               ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n"
               "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
               "-A INPUT -p tcp --dportx 5 -j DROP\nCOMMIT\n")
    action = LoadIptables("nl-it-half", "r", payload, ((7, "t.yml:7"), (8, "table nat"), (13, "t.yml:13"),
                                                       (14, "table filter")))
    subprocess.run(["ip", "netns", "add", "nl-it-half"], check=True)
    try:
        fd = os.open("/run/netns/nl-it-half", os.O_RDONLY)
        try:
            with pytest.raises(ApplyError) as err:
                load(fd, action)
        finally:
            os.close(fd)
        assert "t.yml:13: `-A INPUT -p tcp --dportx 5 -j DROP`" in str(err.value)
        save = subprocess.run(["ip", "netns", "exec", "nl-it-half", detect_backend().save, "-c"],
                              capture_output=True, text=True, check=True).stdout
        rules, _ = parse_save(save)
        assert rules == [], f"half a ruleset stayed loaded: {rules}"
    finally:
        subprocess.run(["ip", "netns", "del", "nl-it-half"], check=False)


def test_netlab_run_of_each_iptables_lab_exits_0(tmp_path: Path) -> None:
    for name in ("iptables-chains", "bridge-nat", "netfilter-tracking"):
        path = catalog_copy(tmp_path, name, f"ir-{name}"[:24])
        done = netlab("run", str(path), timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_without_notrack_the_tracking_probes_fail_and_say_what_they_saw(tmp_path: Path) -> None:
    """netfilter-tracking's claims are falsifiable: with the raw NOTRACK rule gone, the pings are tracked, so they
    are masqueraded and never UNTRACKED -- exactly the probes that say so fail, naming what they counted."""
    path = catalog_copy(tmp_path, "netfilter-tracking", "nf-tracked")
    text = path.read_text()
    path.write_text(text.replace("-A PREROUTING -p icmp -j NOTRACK", "-A PREROUTING -p icmp"))  # untracks nothing
    with running(path) as lab:
        failed = {r.name: r for r in lab.probes().failed}
    assert sorted(failed) == ["untracked-counted", "untracked-not-natted"], [str(r) for r in failed.values()]
    assert "counted +0 packets" in failed["untracked-counted"].observed
    assert "0 packets 'icmp' with IP.src=10.0.1.10" in failed["untracked-not-natted"].observed


@pytest.mark.kernel("iptables")
def test_labs_pass_with_the_backend_this_kernel_has(tmp_path: Path) -> None:
    """Runs here and, with `./run tests`, inside `netlab vm` (pytest -m kernel), whose kernel cannot add
    nf_tables tables (though NFT_MSG_GETGEN answers, so the `nftables` feature says yes): there netlab
    falls back to iptables-legacy and the labs must still pass."""
    backend = detect_backend()  # in netlab vm: iptables-legacy-restore (nf_tables answers TABLE_ADD EOPNOTSUPP)
    assert backend.name in ("iptables-restore", "iptables-legacy-restore"), backend
    for name in ("iptables-chains", "bridge-nat", "netfilter-tracking"):
        with running(catalog_copy(tmp_path, name, f"ik-{name}"[:24])) as lab:
            assert [str(r) for r in lab.probes().failed] == [], f"{name} with {backend.name}"


@pytest.mark.vm
def test_netlab_vm_run_of_iptables_chains_passes_with_legacy_iptables() -> None:
    done = netlab("vm", "run", "iptables-chains", timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "49 of 49 probes passed" in done.stdout
