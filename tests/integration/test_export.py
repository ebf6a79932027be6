"""``netlab export`` made honest: for every catalog lab, the exported script builds what ``netlab up`` builds.

For each lab: run the script (in this test's private namespaces: ``scripts/isolated`` or the VM), read the kernel
back namespace by namespace (``ip -j -d link``, ``ip -j addr``, ``ip -j route show table all``, the sysctls the
plan sets, ``iptables-save``, ``ipvsadm -Sn``), run the lab's probes against it, tear it down with ``SCRIPT down``
(no namespace may stay), then ``netlab up`` the same lab, read it back the same way, and compare. What may differ
is normalized away and nothing else: interface indexes, MAC addresses the topology does not give (and what
derives from them: IPv6 link-local addresses, bridge ids), timers and counters, and netlab's ownership tags (the
interface alias, the iptables comment), which the script leaves out on purpose.

Exercise labs start broken by design: their probes are not run here (test_exercises.py runs them), but the state
comparison holds for them as for every lab. Labs that need kernel features this host lacks (IPVS, GRE, IPIP) are
kernel-marked and run in the full-kernel VM:
``netlab vm -- python -m pytest -m kernel tests/integration/test_export.py``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from netlab import catalog, requirements
from netlab.api import Lab
from netlab.kernel.iptables import NoBackend, detect_backend
from netlab.kernel.proc import sysctl_path
from netlab.model.plan import AddIpvsService, CreateNetns, CreateSubInterface, CreateVeth, Plan, SetQdisc, SetSysctl
from netlab.probes.context import LabView
from netlab.probes.runner import ProbeRunner
from netlab.views.export import render
from tests.helpers import documented, write_lab

pytestmark = pytest.mark.root

KERNEL = "(kernel's)"
"""What a value the kernel chose (and netlab and the script may choose differently) is replaced with."""
OWN_COMMENT = re.compile(r' -m comment --comment "netlab:\S+?( [^"]*)?"')
"""netlab's mark on its iptables rules: the script keeps only the rule's name (group 1) as its comment."""
SETTLE = 1.5
"""Seconds to wait before reading a lab back: the kernel's linkwatch reports a veth's carrier and operstate up to a
second after both ends are up (read at once, a port may still show NO-CARRIER and its bridge port state disabled)."""


VM_ONLY = {"ip_vs", "gre", "ipip", "tunl0", "ipvlan"}
"""Features that send a lab to the VM pass of CI (QEMU TCG here: Python 15-50x slower)."""


def _labs() -> list[Any]:
    """Every catalog lab -- except exercise labs that would need the VM: they are variants of the IPVS and tunnel
    labs round-tripped here (dr-mode, ipvs-nat, tun-mode, gre-tunnel, …) and would add ≈ 10 min to CI's VM pass.
    Host-runnable exercises are round-tripped like any lab; ``NETLAB_EXPORT_ALL=1`` round-trips the VM ones too."""
    every = os.environ.get("NETLAB_EXPORT_ALL") == "1"
    params = []
    for name in catalog.names():
        lab = Lab.load(name)
        needs = sorted({r.feature for r in requirements.derive(lab.topology)} - {"netns", "veth"})
        in_vm = any(n in VM_ONLY or n.startswith("ip_vs") for n in needs)
        if lab.resolved.exercise is not None and in_vm and not every:
            continue
        params.append(pytest.param(name, marks=pytest.mark.kernel(*[n for n in needs if not n.startswith("tool:")]),
                                   id=name))
    return params


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, **kw)


def _ip_json(netns: str, *args: str) -> Any:
    done = _run(["ip", "-n", netns, "-j", *args])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "[]")


def _given_macs(plan: Plan) -> set[tuple[str, str]]:
    """(namespace, interface) whose MAC the plan sets: every other one is the kernel's random choice."""
    given = set()
    for a in plan.actions:
        if isinstance(a, CreateVeth):
            given |= {(a.netns, a.name)} if a.mac else set()
            given |= {(a.peer_netns, a.peer_name)} if a.peer_mac else set()
        elif isinstance(a, CreateSubInterface) and a.mac:
            given.add((a.target_netns, a.name))
    return given


def _link(netns: str, raw: dict[str, Any], names: dict[str, dict[int, str]], nsids: dict[int, str],
          given: set[tuple[str, str]]) -> dict[str, Any]:
    """One interface with what the kernel chose made neutral, and its peer or parent named, not numbered."""
    # operstate goes from UNKNOWN to UP when the kernel's linkwatch runs (up to a second after `up`): read at once
    # after the fast `netlab up` it may still be UNKNOWN; the flags (UP, LOWER_UP) say the same without the delay
    link = {k: v for k, v in raw.items() if k not in ("ifindex", "link_index", "link_netnsid", "ifalias", "operstate")}
    if "link_index" in raw:
        peer_ns = nsids.get(raw["link_netnsid"], f"nsid {raw['link_netnsid']}") if "link_netnsid" in raw else netns
        link["peer"] = f"{peer_ns}:{names.get(peer_ns, {}).get(raw['link_index'], raw['link_index'])}"
    if raw.get("link_type") == "ether" and (netns, raw["ifname"]) not in given:
        link["address"] = KERNEL
    if "permaddr" in link:  # random, on the fallback devices a tunnel module adds to every namespace (ip6tnl0, sit0)
        link["permaddr"] = KERNEL
    for key in ("info_data", "info_slave_data"):
        data = link.get("linkinfo", {}).get(key)
        if isinstance(data, dict):  # a bridge's id is its lowest port MAC; timers tick
            for k in list(data):
                if k.endswith("_timer") or k in ("bridge_id", "root_id"):
                    data[k] = KERNEL
    for info in link.get("addr_info", []):
        if str(info.get("local", "")).startswith("fe80:"):
            info["local"] = KERNEL  # derived from the MAC
    return link


def _route(route: dict[str, Any]) -> str:
    if str(route.get("dst", "")).startswith("fe80:") and route.get("dst") != "fe80::/64":
        route = {**route, "dst": KERNEL}  # the local route of a link-local address
    return json.dumps(route, sort_keys=True)


def _named(m: re.Match[str]) -> str:
    """The rule's name as iptables-save prints a comment: in quotes only if it has a space."""
    name = (m[1] or "").strip()
    return f" -m comment --comment {json.dumps(name) if ' ' in name else name}" if name else ""


def read_back(plan: Plan) -> dict[str, dict[str, Any]]:
    """What the kernel holds in each of the plan's namespaces, with the kernel's own choices normalized."""
    time.sleep(SETTLE)
    given = _given_macs(plan)
    raw_links = {ns: _ip_json(ns, "-d", "link", "show") for ns in plan.namespaces}
    names = {ns: {link["ifindex"]: link["ifname"] for link in links} for ns, links in raw_links.items()}
    keys: dict[str, list[str]] = {ns: [] for ns in plan.namespaces}
    for a in plan.actions:
        if isinstance(a, CreateNetns):
            keys[a.netns] += [f"net.ipv6.conf.{s}.{k}" for s in ("all", "default") for k in ("disable_ipv6",
                                                                                             "accept_dad")]
        elif isinstance(a, SetSysctl):
            keys[a.netns].append(a.key)
    directors = {a.netns for a in plan.actions if isinstance(a, AddIpvsService)}
    shaped = {a.netns for a in plan.actions if isinstance(a, SetQdisc)}
    try:
        save = detect_backend().save
    except NoBackend:
        save = "iptables-save"
    out: dict[str, dict[str, Any]] = {}
    for ns in plan.namespaces:
        nsids = {e["nsid"]: e.get("name", "?") for e in _ip_json(ns, "netns", "list-id")}
        sysctls = {}
        for key in keys[ns]:
            done = _run(["ip", "netns", "exec", ns, "cat", sysctl_path(key)])
            sysctls[key] = done.stdout.strip() if done.returncode == 0 else "(missing)"
        rules = _run(["ip", "netns", "exec", ns, save]).stdout
        state: dict[str, Any] = {
            # by name: the dump is in index order, and the indexes are netlab's choice or the kernel's
            "links": {link["ifname"]: _link(ns, link, names, nsids, given) for link in raw_links[ns]},
            "addresses": {link["ifname"]: _link(ns, link, names, nsids, given) for link in _ip_json(ns, "addr")},
            "routes": sorted(_route(r) for r in _ip_json(ns, "route", "show", "table", "all")),
            "sysctls": sysctls,
            "iptables": [re.sub(r"\[\d+:\d+\]", "[0:0]", OWN_COMMENT.sub(_named, line)) for line in rules.splitlines()
                         if not line.startswith("#")],
        }
        if ns in directors:
            state["ipvs"] = _run(["ip", "netns", "exec", ns, "ipvsadm", "-Sn"]).stdout.splitlines()
        if ns in shaped:  # root qdiscs as tc prints them, the kernel-chosen handle left out
            state["qdiscs"] = sorted(re.sub(r"qdisc (\S+) [0-9a-f]+: ", r"qdisc \1 ", line) for line in _run(
                ["ip", "netns", "exec", ns, "tc", "qdisc", "show"]).stdout.splitlines() if " root " in line)
        out[ns] = state
    return out


def _diff(script: dict[str, Any], netlab: dict[str, Any]) -> str:
    a = json.dumps(script, indent=1, sort_keys=True).splitlines()
    b = json.dumps(netlab, indent=1, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "script", "netlab up", lineterm="", n=4))


def _left(plan: Plan) -> list[str]:
    return [ns for ns in plan.namespaces if os.path.lexists(f"/run/netns/{ns}")]


def round_trip(lab: Lab, tmp_path: Path, probes: bool) -> None:
    """Script, read back, probes, script down; netlab up, read back, down; the two readings must be equal."""
    plan = lab.plan()
    script = tmp_path / f"{lab.name}.sh"
    script.write_text(render(plan, lab.topology.description or ""))
    env = {**os.environ, "PYTHON": sys.executable, "LOG_DIR": str(tmp_path)}
    try:
        built = _run(["bash", str(script)], env=env)
        assert built.returncode == 0, f"the script failed:\n{built.stdout}\n{built.stderr}"
        by_script = read_back(plan)
        if probes:
            suite = ProbeRunner(LabView.from_resolved(lab.resolved), None, tmp_path / "pcap").run()
            assert suite.passed, "probes failed against the script's lab:\n" + "\n".join(
                f"  {r.name}: {r.verdict}" for r in suite.failed)
    finally:
        down = _run(["bash", str(script), "down"], env=env)
    assert down.returncode == 0, down.stderr
    assert _left(plan) == [], "the teardown left namespaces"
    lab.up()
    try:
        by_netlab = read_back(plan)
    finally:
        lab.down()
    assert by_script == by_netlab, f"the script's lab differs from netlab's:\n{_diff(by_script, by_netlab)}"


@pytest.mark.parametrize("name", _labs())
def test_the_exported_script_builds_what_netlab_up_builds_and_passes_the_probes(name: str, tmp_path: Path) -> None:
    lab = Lab.load(name)
    # exercises start broken on purpose: their probes fail until the student fixes them (the state still compares)
    round_trip(lab, tmp_path, probes=lab.resolved.exercise is None)


def test_the_manual_s_campus_lab_round_trips_with_ipv6_loopbacks_and_per_interface_sysctls(tmp_path: Path) -> None:
    """docs/topology.md's full example: IPv6 on (without DAD), addresses on lo, routes with metric, src and dev,
    per-interface sysctls, a command; no catalog lab on this host has all of them."""
    round_trip(Lab.load(write_lab(tmp_path, documented("campus"))), tmp_path, probes=True)


def test_the_teardown_script_removes_the_lab_netlab_built_and_only_its_namespaces(tmp_path: Path) -> None:
    lab = Lab.load("routed")
    plan = lab.plan()
    script = tmp_path / "down.sh"
    script.write_text(render(plan, teardown=True))
    bystander = "export-bystander"
    assert _run(["ip", "netns", "add", bystander]).returncode == 0
    try:
        lab.up()
        try:
            done = _run(["bash", str(script)])
            assert done.returncode == 0, done.stderr
            assert _left(plan) == []
            assert os.path.lexists(f"/run/netns/{bystander}")
        finally:
            lab.down()
    finally:
        _run(["ip", "netns", "del", bystander])


def test_the_script_refuses_to_build_over_a_namespace_that_exists(tmp_path: Path) -> None:
    plan = Lab.load("routed").plan()
    script = tmp_path / "routed.sh"
    script.write_text(render(plan))
    assert _run(["ip", "netns", "add", plan.namespaces[-1]]).returncode == 0
    try:
        done = _run(["bash", str(script)])
        assert done.returncode == 1 and "exists" in done.stderr
        assert _left(plan) == [plan.namespaces[-1]]  # nothing made, and the one that was there left alone
    finally:
        _run(["ip", "netns", "del", plan.namespaces[-1]])


def test_a_failing_step_removes_what_the_script_made(tmp_path: Path) -> None:
    plan = Lab.load("routed").plan()
    script = tmp_path / "routed.sh"
    script.write_text(render(plan).replace("sysctl -qw net.ipv4.ip_forward=1", "sysctl -qw net.ipv4.no_such_key=1"))
    done = _run(["bash", str(script)])
    assert done.returncode != 0 and "removing what was made" in done.stderr
    assert _left(plan) == []
