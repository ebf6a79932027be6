"""Multi-host, the pure part: the inventory, placement, and cutting a plan into per-host plans whose cut links
are stitches (one VNI per cut, local/remote swapped, names, indexes and MACs kept, an MTU that fits)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netlab.errors import InvalidInput
from netlab.model.plan import CreateStitch, CreateVeth
from netlab.multihost.inventory import Inventory, read
from netlab.multihost.partition import partition, place, vni_of
from netlab.naming import derived_mac
from netlab.stages.load import load_text
from tests.helpers import build, text_of

LAB = """\
name: split
nodes:
  a: {host: h2}
  b: {}
  c: {}
links:
  - a: {node: a, address: 10.0.0.1/24}
    b: {node: b, address: 10.0.0.2/24}
  - a: {node: b, address: 10.0.1.1/24}
    b: {node: c, address: 10.0.1.2/24}
"""


def _inventory(text: str) -> Inventory:
    return read(load_text(text, "inv.yml"))


TWO = _inventory("all:\n  hosts:\n    h1: {ansible_host: 192.0.2.1}\n    h2: {ansible_host: 192.0.2.2}\n")


def _cut(source: str, inventory: Inventory = TWO):  # type: ignore[no-untyped-def]
    built = build(source)
    return partition(load_text(text_of(source), "lab.yml"), built.topology, built.resolved, built.plan, inventory)


def test_the_inventory_is_ansibles_and_every_problem_is_reported_with_its_line() -> None:
    inv = _inventory("all:\n  hosts:\n    h1: {netlab_underlay: 10.9.0.1, ansible_host: h1.example}\n"
                     "  children:\n    more:\n      hosts:\n        h2: {ansible_host: 10.9.0.2, netlab_mtu: 9000}\n")
    assert [(h.name, h.underlay, h.mtu) for h in inv.hosts] == [("h1", "10.9.0.1", 1500), ("h2", "10.9.0.2", 9000)]
    with pytest.raises(InvalidInput) as err:
        _inventory("all:\n  hosts:\n    'bad name': {ansible_host: 10.0.0.1}\n    h2: {ansible_host: h2.example}\n"
                   "    h3: {ansible_host: 10.0.0.3, netlab_mtu: 100}\n    h4: {ansible_host: 10.0.0.3}\n"
                   "    h5: {ansible_host: 10.0.0.3}\n")
    text = str(err.value)
    assert "inv.yml:3" in text and "not a host name" in text
    assert "inv.yml:4" in text and "no IPv4 underlay address" in text
    assert "netlab_mtu 100" in text and "same underlay address 10.0.0.3" in text
    with pytest.raises(InvalidInput, match="names no host"):
        _inventory("all: {}\n")


def test_placement_keeps_host_keys_and_spreads_the_rest_deterministically() -> None:
    built = build(LAB)
    loaded = load_text(LAB, "lab.yml")
    assert place(loaded, built.topology, TWO) == {"a": "h2", "b": "h1", "c": "h1"}
    with pytest.raises(InvalidInput) as err:
        place(loaded, built.topology, _inventory("all:\n  hosts:\n    h1: {ansible_host: 192.0.2.1}\n"))
    text = str(err.value)
    assert "lab.yml:3" in text and "nodes.a.host" in text and "not in the inventory" in text


def test_a_cut_link_becomes_two_stitches_and_the_rest_stays_where_its_namespace_is() -> None:
    cut = _cut(LAB)
    plans = dict(cut.plans)
    assert plans["h1"].namespaces == ("nl-split.b", "nl-split.c") and plans["h2"].namespaces == ("nl-split.a",)
    (c,) = cut.cuts
    assert (c.a, c.a_host, c.b, c.b_host, c.mtu) == ("nl-split.a:eth0", "h2", "nl-split.b:eth0", "h1", 1450)
    (sa,) = [x for x in plans["h2"].actions if isinstance(x, CreateStitch)]
    (sb,) = [x for x in plans["h1"].actions if isinstance(x, CreateStitch)]
    assert (sa.local, sa.remote, sb.local, sb.remote) == ("192.0.2.2", "192.0.2.1", "192.0.2.1", "192.0.2.2")
    assert sa.vni == sb.vni == vni_of("split", 0) and sa.mac != sb.mac
    assert sa.mac == derived_mac("split", "nl-split.a", "eth0") and int(sa.mac[:2], 16) & 3 == 2  # local, unicast
    assert [x for x in plans["h1"].actions if isinstance(x, CreateVeth)] != []  # b-c stays a veth on h1
    every = [x for p in plans.values() for x in p.actions]
    whole = build(LAB).plan.actions
    assert len(every) == len(whole) + 1  # one veth became two stitches; nothing else lost or added


def test_a_cut_link_whose_mtu_does_not_fit_the_underlay_is_refused_before_anything_starts() -> None:
    big = LAB.replace("b: {node: b, address: 10.0.0.2/24}", "b: {node: b, address: 10.0.0.2/24}\n    mtu: 1500")
    with pytest.raises(InvalidInput) as err:
        _cut(big)
    assert "MTU 1500" in str(err.value) and "VXLAN leaves 1450" in str(err.value)
    jumbo = _inventory("all:\n  hosts:\n    h1: {ansible_host: 192.0.2.1, netlab_mtu: 9000}\n"
                       "    h2: {ansible_host: 192.0.2.2, netlab_mtu: 9000}\n")
    assert _cut(big, jumbo).cuts[0].mtu == 1500


def test_a_lan_lives_where_most_of_its_members_are_and_remote_members_are_stitched_to_its_bridge() -> None:
    lan = ("name: lanx\nnodes:\n  a: {host: h2}\n  b: {host: h1}\n  c: {host: h1}\nlans:\n  l1:\n    members:\n"
           "      - {node: a, address: 10.0.0.1/24}\n      - {node: b, address: 10.0.0.2/24}\n"
           "      - {node: c, address: 10.0.0.3/24}\n")
    cut = _cut(lan)
    assert dict(cut.hosts)["nl-lanx.l1"] == "h1"
    assert [(c.a, c.b) for c in cut.cuts] == [("nl-lanx.a:eth0", "nl-lanx.l1:a")]
    # the local members' ports get the stitched member's MTU: the bridge never meets a frame it cannot pass on
    local = [x for x in dict(cut.plans)["h1"].actions if isinstance(x, CreateVeth)]
    assert len(local) == 2 and {(x.mtu, x.peer_mtu) for x in local} == {(1450, 1450)}


def test_vnis_differ_between_labs_and_within_one() -> None:
    assert len({vni_of("routed", i) for i in range(1000)}) == 1000
    assert vni_of("routed", 0) != vni_of("dr-mode", 0)
    assert all(1 <= vni_of(name, i) <= 0xFFFFFF for name in ("a", "zz-top") for i in (0, 5000))


def test_stitches_are_validated_like_the_rest(tmp_path: Path) -> None:
    from tests.helpers import problems

    found = problems("name: s\nnodes:\n  a: {}\nstitches:\n"
                     "  - {node: nope, interface: eth0, vni: 1, local: 192.0.2.1, remote: 192.0.2.2}\n"
                     "  - {node: a, interface: eth0, vni: 7, local: 192.0.2.1, remote: not-an-ip}\n"
                     "  - {node: a, interface: eth0, vni: 7, local: 192.0.2.1, remote: not-an-ip,"
                     " mac: 01:00:00:00:00:01}\n")
    text = "\n".join(d.render() for d in found)
    assert "no node 'nope'" in text and "'not-an-ip' is not an IPv4 address" in text
    assert "already has an interface 'eth0'" in text and "multicast MAC" in text and "used twice" in text


def test_probes_run_on_the_host_of_their_node_and_a_capture_of_another_hosts_probe_is_a_watch() -> None:
    from netlab.multihost.partition import probe_hosts

    probes = ({"name": "ping", "kind": "ping", "from": "a"}, {"name": "fwd", "kind": "sysctl", "node": "b"},
              {"name": "seen-on-b", "kind": "capture", "during": "ping", "at": ["b:eth0"]},
              {"name": "seen-on-a", "kind": "capture", "during": "ping", "at": ["a:eth0"]},
              {"name": "both", "kind": "capture", "during": "ping", "at": ["a:eth0", "b:eth0"]})
    here, watches, nowhere = probe_hosts(probes, {"a": "h1", "b": "h2"})
    assert here == {"h1": ["ping", "seen-on-a"], "h2": ["fwd"]}
    assert [(w.probe, w.host, w.during, w.during_host) for w in watches] == [("seen-on-b", "h2", "ping", "h1")]
    assert [name for name, _why in nowhere] == ["both"] and "several hosts" in nowhere[0][1]


def test_the_inventory_may_place_nodes_and_must_agree_with_the_topology() -> None:
    built = build(LAB)
    loaded = load_text(LAB, "lab.yml")
    inv = _inventory("all:\n  hosts:\n    h1: {ansible_host: 192.0.2.1}\n"
                     "    h2: {ansible_host: 192.0.2.2, netlab_nodes: [b, c]}\n")
    assert place(loaded, built.topology, inv) == {"a": "h2", "b": "h2", "c": "h2"}
    clash = _inventory("all:\n  hosts:\n    h1: {ansible_host: 192.0.2.1, netlab_nodes: [a, zz]}\n"
                       "    h2: {ansible_host: 192.0.2.2}\n")
    with pytest.raises(InvalidInput) as err:
        place(loaded, built.topology, clash)
    assert "placed on h2 here and on h1 by the inventory" in str(err.value) and "no such node" in str(err.value)


def test_the_vagrant_inventory_is_one_netlab_reads_with_the_placement_given() -> None:
    from netlab.vagrant.ci import multihost_inventory
    from netlab.vagrant.provision import SshTarget

    text = multihost_inventory([SshTarget("netlab1", "192.168.121.5", 22, "vagrant", "/k/key"),
                                SshTarget("netlab2", "192.168.121.6", 22, "vagrant", "/k/key")],
                               (("director", "netlab1"), ("rs1", "netlab2")))
    inv = read(load_text(text, "hosts.yml"))
    assert [(h.name, h.underlay, h.nodes) for h in inv.hosts] == [("netlab1", "192.168.121.5", ("director",)),
                                                                    ("netlab2", "192.168.121.6", ("rs1",))]
    assert '"ansible_become": true' in text and "/opt/netlab/venv/bin/netlab" in text


def test_a_mac_given_twice_is_refused_before_anything_starts() -> None:
    mac = ", mac: 02:00:00:00:00:01}"
    twice = LAB.replace("a: {node: a, address: 10.0.0.1/24}", "a: {node: a, address: 10.0.0.1/24" + mac)
    twice = twice.replace("b: {node: c, address: 10.0.1.2/24}", "b: {node: c, address: 10.0.1.2/24" + mac)
    with pytest.raises(InvalidInput, match="MAC 02:00:00:00:00:01 is given to both"):
        _cut(twice)


def test_a_module_failure_shows_what_the_module_printed() -> None:
    """Ansible's MODULE FAILURE says "see stdout/stderr"; netlab's message carries their last lines and rc."""
    from netlab.multihost.orchestrate import failure

    result = {"msg": "MODULE FAILURE\nSee stdout/stderr for the exact error", "rc": 137, "module_stdout": "",
              "module_stderr": "Traceback (most recent call last):\n  File \"x\"\nMemoryError\n"}
    assert failure(result) == ("MODULE FAILURE\n  Traceback (most recent call last):\n    File \"x\"\n  MemoryError\n"
                               "  (rc 137)")
    assert failure({"msg": "Destination not writable"}) == "Destination not writable"


def test_the_watcher_leaves_the_answer_it_read_in_place(tmp_path: Path) -> None:
    """The controller's copy renames the answer into place and then sets its mode: the watcher, which reads it the
    moment it appears, must not remove it (CI saw Ansible's copy fail with MODULE FAILURE when it did). A stale
    answer from an earlier run is removed before this host says it listens."""
    import json
    import os
    import threading

    from netlab.multihost.elsewhere import directory, stem, waiter
    from netlab.probes.spec import probe_from_data
    from netlab.stages.record import StateStore

    store = StateStore(tmp_path / "run")
    probe = probe_from_data({"name": "ping-it", "kind": "ping", "from": "a", "to": "b"})
    where = directory(store, "split")
    where.mkdir(parents=True)
    answer, listening = where / f"{stem('ping-it')}.result.json", where / f"{stem('ping-it')}.listening"
    answer.write_text('{"results": [{"name": "ping-it", "passed": false, "observed": "stale"}]}')
    got = []
    watching = threading.Thread(target=lambda: got.append(waiter("split", store, wait=10.0)(probe)))
    watching.start()
    deadline = time.monotonic() + 10
    while not listening.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    staged = where / ".staged"
    staged.write_text(json.dumps({"results": [{"name": "ping-it", "passed": True, "observed": "3/3 replies",
                                               "expected": "replies", "seconds": 0.1}]}))
    os.replace(staged, answer)
    watching.join(10)
    assert got and got[0].passed and got[0].observed == "3/3 replies (on another host)"
    os.chmod(answer, 0o600)  # what the copy does after the rename: the file is still there
    assert not listening.exists()


def test_ansible_work_directories_of_dead_controllers_are_swept_and_only_those(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A controller killed with -9 leaves ``<run dir>/ansible/<pid>/``: the next run (and ``clean``) removes every
    one whose process is gone or whose pid was reused (start time differs); a live one, one still being made (no
    owner file yet, its pid alive) and anything not named like a pid stay."""
    import os
    import subprocess
    import sys

    from netlab.multihost import orchestrate

    monkeypatch.setenv("NETLAB_RUN_DIR", str(tmp_path / "run"))
    top = tmp_path / "run" / "ansible"
    mine = orchestrate._work_dir()
    assert mine == top / str(os.getpid()) and (mine / "owner").read_text() == orchestrate._owner(os.getpid())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = top / gone.stdout.strip()
    (dead / "cp").mkdir(parents=True)
    (dead / "owner").write_text(orchestrate._owner(int(dead.name)))  # written while it lived: start time 0 now
    (dead / "cp" / "0123456789").write_text("")
    live = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    try:
        reused = top / str(live[0].pid)  # a live process, but not the one that wrote this: another start time
        reused.mkdir()
        (reused / "owner").write_text(f"{live[0].pid} 12345\n")
        starting = top / str(live[1].pid)  # no owner file yet, its process alive: a run that is starting
        starting.mkdir()
        stranger = top / "not-a-pid"
        stranger.mkdir()
        assert sorted(orchestrate.sweep()) == sorted([live[0].pid, int(dead.name)])
        assert sorted(p.name for p in top.iterdir()) == sorted([mine.name, starting.name, "not-a-pid"])
        assert orchestrate.sweep() == []
    finally:
        for process in live:
            process.kill()
            process.wait()
    assert orchestrate.sweep() == [live[1].pid]  # the starting run's process is gone now: so is its directory


def test_ssh_connection_sharing_is_off_where_a_control_socket_would_not_fit(tmp_path: Path) -> None:
    from netlab.multihost.orchestrate import _ssh_sharing

    short = _ssh_sharing(Path("/run/netlab/ansible/4194304"))
    assert short["ANSIBLE_SSH_CONTROL_PATH_DIR"] == "/run/netlab/ansible/4194304/cp"
    assert "ControlMaster=auto" in short["ANSIBLE_SSH_ARGS"]
    assert _ssh_sharing(Path("/" + "x" * 80)) == {"ANSIBLE_SSH_ARGS": "-o ControlMaster=no"}
