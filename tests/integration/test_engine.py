"""The engine end to end, as root, on this kernel: up, traffic, down, leftovers, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import (
    REPO,
    assert_nothing_left,
    block,
    catalog_copy,
    lan,
    netlab,
    netns_of,
    state_file,
    two_nodes,
    write_lab,
)

pytestmark = pytest.mark.root


def test_routed_up_ping_down_leaves_nothing() -> None:
    netlab("down", "routed")
    up = netlab("up", "routed")
    assert up.returncode == 0, up.stderr
    try:
        ping = netlab("exec", "routed", "client", "--", "ping", "-c1", "-W2", "10.0.2.10")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "1 received" in ping.stdout
        # the path really goes through the router: TTL decremented once
        assert "ttl=63" in ping.stdout
        fwd = netlab("exec", "routed", "router", "--", "cat", "/proc/sys/net/ipv4/ip_forward")
        assert fwd.stdout.strip() == "1"
        assert netlab("exec", "routed", "server", "--", "sh", "-c", "exit 7").returncode == 7  # passed through
        status = json.loads(netlab("status", "routed", "--json").stdout)
        addrs = {n["name"]: [a for i in n["interfaces"] for a in i["addresses"]] for n in status["nodes"]}
        assert "10.0.1.10/24" in addrs["client"] and "10.0.2.10/24" in addrs["server"]
        assert set(addrs["router"]) >= {"10.0.1.1/24", "10.0.2.1/24"}
    finally:
        down = netlab("down", "routed")
    assert down.returncode == 0, down.stderr
    assert_nothing_left("routed")
    again = netlab("down", "routed")
    assert again.returncode == 0 and "was not up" in again.stdout


def test_lan_hosts_reach_each_other_without_router() -> None:
    netlab("down", "lan")
    assert netlab("up", "lan").returncode == 0
    try:
        for target in ("10.0.0.2", "10.0.0.3"):
            r = netlab("exec", "lan", "h1", "--", "ping", "-c1", "-W2", target)
            assert r.returncode == 0 and "ttl=64" in r.stdout, r.stdout
        # the bridge ports are named after the hosts plugged into them
        ports = subprocess.run(["ip", "-n", "nl-lan.lan1", "-o", "link", "show", "master", "br0"],
                               capture_output=True, text=True, check=True).stdout
        assert {"h1", "h2", "h3"} <= {line.split(":")[1].strip().split("@")[0] for line in ports.splitlines()}
    finally:
        netlab("down", "lan")
    assert_nothing_left("lan")


def test_two_labs_with_the_same_node_names(tmp_path: Path) -> None:
    a, b = catalog_copy(tmp_path, "routed", "twin-a"), catalog_copy(tmp_path, "routed", "twin-b")
    try:
        assert netlab("up", str(a)).returncode == 0
        assert netlab("up", str(b)).returncode == 0
        for lab in ("twin-a", "twin-b"):
            r = netlab("exec", lab, "client", "--", "ping", "-c1", "-W2", "10.0.2.10")
            assert r.returncode == 0, r.stdout
        assert netlab("down", "twin-a").returncode == 0
        assert_nothing_left("twin-a")
        # the other lab is untouched
        r = netlab("exec", "twin-b", "client", "--", "ping", "-c1", "-W2", "10.0.2.10")
        assert r.returncode == 0
    finally:
        netlab("down", "twin-a", "twin-b")
    assert_nothing_left("twin-b")


def test_up_twice_is_a_noop_and_changed_file_needs_recreate(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "routed", "again")
    try:
        assert netlab("up", str(path)).returncode == 0
        second = netlab("up", str(path))
        assert second.returncode == 0 and "already up" in second.stdout
        path.write_text(path.read_text().replace("10.0.2.10/24", "10.0.2.11/24"))
        changed = netlab("up", str(path))
        assert changed.returncode == 1 and "--recreate" in changed.stderr
        recreated = netlab("up", "--recreate", str(path))
        assert recreated.returncode == 0, recreated.stderr
        r = netlab("exec", "again", "client", "--", "ping", "-c1", "-W2", "10.0.2.11")
        assert r.returncode == 0
    finally:
        netlab("down", "again")
    assert_nothing_left("again")


def test_down_works_after_the_file_is_gone(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "routed", "gone")
    assert netlab("up", str(path)).returncode == 0
    path.unlink()
    assert netlab("status", "gone").returncode == 0
    assert netlab("down", "gone").returncode == 0
    assert_nothing_left("gone")


def test_bad_file_changes_nothing(tmp_path: Path) -> None:
    path = write_lab(tmp_path, "name: bad\nnodes:\n  a: {}\nlinks:\n  - a: {node: a, address: 10.0.0.1/24}\n"
                               "    b: {node: ghost, address: 10.0.0.2/24}\n")
    before = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    r = netlab("up", str(path))
    assert r.returncode == 2
    assert "unknown node 'ghost'" in r.stderr and f"{path}:6" in r.stderr
    after = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    assert before == after
    assert not state_file("bad").exists()


def test_failed_up_rolls_back_and_names_the_step(tmp_path: Path) -> None:
    path = write_lab(tmp_path, two_nodes("{node: a, address: 10.9.0.1/24}", "{node: b, address: 10.9.0.2/24}",
                                         name="failing", a=block("commands", "'echo about to fail; exit 3'")))
    r = netlab("up", str(path))
    assert r.returncode == 1
    assert "run in a: echo about to fail; exit 3" in r.stderr and "exited with 3" in r.stderr
    assert "about to fail" in r.stderr
    assert_nothing_left("failing")


def test_namespace_not_ours_is_never_adopted_or_removed(tmp_path: Path) -> None:
    subprocess.run(["ip", "netns", "add", "nl-squat.a"], check=True)
    try:
        path = write_lab(tmp_path, two_nodes("{node: a}", "{node: b}", name="squat"))
        r = netlab("up", str(path))
        assert r.returncode == 1 and "nl-squat.a already exists" in r.stderr
        assert Path("/run/netns/nl-squat.a").exists()
        assert netlab("clean").returncode == 0
        assert Path("/run/netns/nl-squat.a").exists(), "clean removed a namespace netlab did not make"
    finally:
        subprocess.run(["ip", "netns", "del", "nl-squat.a"], check=False)


def test_kill_9_during_up_then_clean_leaves_nothing(tmp_path: Path) -> None:
    # a long command holds `up` in its last phase, with every namespace made and a process inside one
    path = write_lab(tmp_path, lan({"a": "10.8.0.1/24", "b": "10.8.0.2/24", "c": "10.8.0.3/24"}, name="crash",
                                   nodes={"a": "{commands: ['sleep 60']}"}))
    proc = subprocess.Popen([sys.executable, "-m", "netlab", "up", str(path)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(netns_of("crash")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(netns_of("crash")) == 4
    from netlab.stages.teardown import pids_in_namespaces

    sleepers: list[int] = []
    while not sleepers and time.monotonic() < deadline:  # the command runs inside node a
        sleepers = pids_in_namespaces(["nl-crash.a"]).get("nl-crash.a", [])
        time.sleep(0.02)
    assert sleepers, "the node's command never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = json.loads(state_file("crash").read_text())
    assert state["status"] == "applying"
    # while the owner was alive the lab counted as live; now it is stale and clean takes it
    r = netlab("clean", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert "crash" in report["labs"] and len(report["removed"]) == 4
    assert_nothing_left("crash")
    survivors = [pid for pid in sleepers if Path(f"/proc/{pid}").exists()
                 and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    assert survivors == [], "the lab's process survived clean"


def test_kill_9_at_several_points_then_clean(tmp_path: Path) -> None:
    """Kill `up` of a 300-node star at several moments of apply; clean must always leave nothing."""
    n = 300
    path = write_lab(tmp_path, lan({f"h{i}": f"10.7.{i // 250}.{i % 250 + 1}/16" for i in range(n)}, name="crashy",
                                   segment="hub"))
    interrupted = 0
    for delay in (0.0, 0.01, 0.03, 0.08, 0.15):
        proc = subprocess.Popen([sys.executable, "-m", "netlab", "up", str(path)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not state_file("crashy").exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        status = json.loads(state_file("crashy").read_text())["status"] if state_file("crashy").exists() else None
        if status == "applying":
            interrupted += 1
            assert netlab("clean").returncode == 0
        else:  # apply had finished: the lab is legitimately up
            assert netlab("down", "crashy").returncode == 0
        assert_nothing_left("crashy")
    assert interrupted >= 2, "the kills did not land during apply; the test proved nothing"


def test_clean_removes_tagged_namespaces_whose_state_is_gone(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "routed", "orphan")
    assert netlab("up", str(path)).returncode == 0
    state_file("orphan").unlink()  # as if /run/netlab/labs was wiped
    assert len(netns_of("orphan")) == 3
    r = netlab("clean", "--json")
    assert sorted(json.loads(r.stdout)["removed"]) == ["nl-orphan.client", "nl-orphan.router", "nl-orphan.server"]
    assert_nothing_left("orphan")


def test_exec_on_a_lab_that_is_not_up_exits_3() -> None:
    r = netlab("exec", "not-a-lab", "x", "--", "true")
    assert r.returncode == 3 and "not up" in r.stderr


def test_python_api(tmp_path: Path) -> None:
    from netlab import Lab

    lab = Lab.load(catalog_copy(tmp_path, "routed", "api"))
    try:
        result = lab.up()
        assert result.created and result.namespaces == 3
        out = lab.exec("client", ["ping", "-c1", "-W2", "10.0.2.10"])
        assert out.returncode == 0 and "1 received" in out.stdout
    finally:
        lab.down()
    assert_nothing_left("api")


def test_missing_kernel_feature_stops_before_anything(tmp_path: Path) -> None:
    """A lab needing GRE: on a kernel without it, exit 4 naming it and the VM command; nothing created.
    On a kernel with it (the CI's VM), the same lab comes up."""
    from netlab.kernel.features import detect

    path = write_lab(tmp_path, two_nodes("{node: a, address: 10.6.0.1/24}", "{node: b, address: 10.6.0.2/24}",
                                         name="needsgre", head="requires: [ip_gre]\n"))
    before = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    r = netlab("up", str(path))
    if not detect("gre").available:
        assert r.returncode == 4, r.stderr
        assert "gre" in r.stderr and "nothing was created" in r.stderr and "netlab vm run needsgre" in r.stderr
        after = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
        assert before == after
        assert not state_file("needsgre").exists()
    else:
        assert r.returncode == 0, r.stderr
        assert netlab("down", "needsgre").returncode == 0
    assert_nothing_left("needsgre")
