"""A catalog lab cut over three namespace-hosts (tests/helpers/hosts.py): each host applies its own plan with the
same apply code as one machine, the cut links become VXLAN stitches over the underlay, and traffic crosses them --
the client on h1 reaches the server on h3 through the router on h2, and what crosses the underlay is VXLAN.
Each host runs what the orchestration runs there: ``netlab up LAB --hosts INV --on HOST``, its probes, ``down``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.model.plan import CreateStitch
from netlab.multihost.inventory import load as load_inventory
from netlab.multihost.orchestrate import recorded
from netlab.multihost.partition import partition
from netlab.stages.load import load_text
from tests.helpers.hosts import UNDERLAY, NamespaceHost, namespace_hosts

pytestmark = [pytest.mark.root, pytest.mark.kernel("vxlan")]

CLIENT_PROBES = ("client-ping", "client-to-server", "udp-echo", "web", "no-route-beyond", "client-route")


def _inventory(tmp_path: Path, hosts: list[NamespaceHost]) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text("all:\n  hosts:\n" + "".join(f"    {h.name}: {{ansible_host: {h.address}}}\n" for h in hosts))
    return path


def _netlab(host: NamespaceHost, *args: str) -> subprocess.CompletedProcess[str]:
    return host.run(sys.executable, "-m", "netlab", *args, timeout=120)


def test_routed_over_three_hosts_crosses_the_stitches(tmp_path: Path) -> None:
    lab = Lab.load("routed")
    with namespace_hosts(3) as hosts:
        inventory_file = _inventory(tmp_path, hosts)
        inventory = load_inventory(inventory_file)
        cut = partition(load_text(lab.text, str(lab.path)), lab.topology, lab.resolved, lab.plan(), inventory)
        assert dict(cut.placement) == {"client": "h1", "router": "h2", "server": "h3"}
        assert len(cut.cuts) == 2
        by_host = dict(cut.plans)
        lab_file = str(lab.path)
        # a host that would cut the lab otherwise than the controller (another netlab) refuses before anything
        wrong = _netlab(hosts[0], "up", lab_file, "--hosts", str(inventory_file), "--on", "h1", "--cut=0123abcd")
        assert wrong.returncode == 2 and "cuts lab routed differently" in wrong.stderr, wrong.stderr
        assert hosts[0].run("ip", "netns").stdout.strip() == ""
        try:
            for host in hosts:
                done = _netlab(host, "up", lab_file, "--hosts", str(inventory_file), "--on", host.name, "--json")
                assert done.returncode == 0, done.stdout + done.stderr
                assert json.loads(done.stdout)["namespaces"] == 1
            client = hosts[0]
            # the stitch is a VXLAN device in the client, its socket on h1's own network
            link = client.run("ip", "netns", "exec", "nl-routed.client", "ip", "-d", "link", "show", "eth0")
            assert "vxlan id" in link.stdout and "remote 192.0.2.2" in link.stdout, link.stdout
            assert "4789" in client.run("ss", "-Hlun").stdout
            capture = subprocess.Popen(["ip", "netns", "exec", UNDERLAY, "tcpdump", "-nli", "br0", "-c", "4",
                                        "udp port 4789"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True)
            time.sleep(1.0)
            ping = client.run("ip", "netns", "exec", "nl-routed.client", "ping", "-c", "3", "-W", "2", "10.0.2.10")
            assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
            echo = client.run("ip", "netns", "exec", "nl-routed.client", "bash", "-c",
                              "exec 3<>/dev/tcp/10.0.2.10/7; echo stitched >&3; head -c 8 <&3")
            assert echo.stdout == "stitched", echo.stdout + echo.stderr
            outer, _ = capture.communicate(timeout=10)
            assert "192.0.2." in outer and "VXLAN" in outer, outer
            # the client's probes, run on its host, cross the stitches unchanged -- HTTP names the server on h3
            probe = _netlab(client, "probe", "routed", "--json", *[f"--only={p}" for p in CLIENT_PROBES])
            results = {r["name"]: r for r in json.loads(probe.stdout)["results"]}
            assert probe.returncode == 0, [r["verdict"] for r in results.values() if not r["passed"]]
            assert set(results) == set(CLIENT_PROBES)
            router = _netlab(hosts[1], "probe", "routed", "--only=arp-server", "--only=forwarding-on")
            assert router.returncode == 0, router.stdout + router.stderr  # ARP for h3's server, over VXLAN
        finally:
            for host in hosts:
                done = _netlab(host, "down", "routed")
                assert done.returncode == 0, done.stdout + done.stderr
        # nothing of the lab is left on any host
        for host in hosts:
            assert host.run("ip", "netns").stdout.strip() == ""
    stitched = [a for p in by_host.values() for a in p.actions if isinstance(a, CreateStitch)]
    assert len(stitched) == 4 and {a.vni for a in stitched} == {c.vni for c in cut.cuts}


def _ssh_inventory(tmp_path: Path, hosts: list[NamespaceHost]) -> Path:
    """The inventory a user would write: Ansible's variables to reach each host as root over SSH, and where
    netlab is there (the same checkout: the namespace-hosts share this machine's file system)."""
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    for host in hosts:
        host.start_sshd(tmp_path / "sshd", (tmp_path / "id_ed25519.pub").read_text())
    ssh_args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes"
    netlab_command = str(Path(sys.executable).with_name("netlab"))
    lines = ["all:", "  vars:", "    ansible_user: root", f"    ansible_ssh_private_key_file: {key}",
             f"    ansible_ssh_common_args: {ssh_args}", f"    ansible_python_interpreter: {sys.executable}",
             f"    netlab_command: {netlab_command}", "  hosts:"]
    lines += [f"    {h.name}: {{ansible_host: {h.address}}}" for h in hosts]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def _controlled_hosts(tmp_path: Path, *labs: str) -> Iterator[tuple[list[NamespaceHost], Path]]:
    """Three hosts reached over SSH (and their inventory); afterwards, a lab the controller still records is taken
    down while its hosts are still there -- a test failing halfway must not leave the next test a lab "already up
    on its hosts" in this run dir."""
    from tests.helpers import netlab

    with namespace_hosts(3, controller=True) as hosts:
        try:
            yield hosts, _ssh_inventory(tmp_path, hosts)
        finally:
            for lab in labs:
                if recorded(lab) is not None:
                    netlab("down", lab, timeout=300)


@pytest.mark.parametrize(("lab", "where"), [
    ("routed", {**{p: "h1" for p in CLIENT_PROBES}, "arp-server": "h2", "forwarding-on": "h2",
                "through-the-router": "h2", "server-sees-client": "h3"}),  # captures on h2, h3 of h1's traffic
    ("lan", {"h1-h2": "h1", "h1-h3": "h1", "no-hop": "h1", "who-has-h2": "h1", "broadcast-floods": "h3"}),
])
def test_ansible_brings_a_lab_up_on_three_hosts_probes_it_and_takes_it_down(lab: str, where: dict[str, str],
                                                                            tmp_path: Path) -> None:
    """routed: every link cut. lan: h2 and h3 stitched to the LAN's bridge on h1 -- h1's ARP probe names h2 behind
    a stitch, and h3 sees the broadcast the bridge on h1 floods to it."""
    from tests.helpers import netlab

    with _controlled_hosts(tmp_path, lab) as (hosts, inventory):
        up = netlab("up", lab, "--hosts", str(inventory), timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "is up on 3 hosts" in up.stdout
        again = netlab("up", lab, "--hosts", str(inventory))  # as on one machine: the same lab again is a no-op
        assert again.returncode == 0 and "already up on its hosts" in again.stdout, again.stdout + again.stderr
        for host in hosts:  # each host holds its part, and only it
            assert all(ns.startswith(f"nl-{lab}.") for ns in host.run("ip", "netns").stdout.split()), host.name
        probe = netlab("probe", lab, "--json", timeout=300)
        report = json.loads(probe.stdout)
        assert probe.returncode == 0, [r["observed"] for r in report["results"] if not r["passed"]]
        assert {r["name"]: r["host"] for r in report["results"]} == where
        assert report["not_run"] == []
        status = netlab("status", lab, "--json", timeout=300)
        assert status.returncode == 0, status.stdout + status.stderr
        assert sorted(json.loads(status.stdout)) == ["h1", "h2", "h3"]
        down = netlab("down", lab, timeout=300)
        assert down.returncode == 0 and "down on 3 hosts" in down.stdout, down.stdout + down.stderr
        for host in hosts:
            assert host.run("ip", "netns").stdout.strip() == "", host.name
        assert netlab("status", lab).returncode != 0  # the controller's record is gone with the lab


def test_a_host_that_fails_during_up_rolls_every_host_back(tmp_path: Path) -> None:
    """h3 unreachable: h1 and h2 came up, so they are taken down again; the controller keeps its record (h3 could
    not be asked) until a later `down` reaches every host."""
    from tests.helpers import netlab

    with _controlled_hosts(tmp_path, "routed") as (hosts, inventory):
        hosts[2].stop_sshd()
        up = netlab("up", "routed", "--hosts", str(inventory), timeout=300)
        assert up.returncode != 0 and "h3: unreachable" in up.stderr, up.stdout + up.stderr
        for host in hosts:
            assert host.run("ip", "netns").stdout.strip() == "", host.name
        assert "not taken down: h3" in up.stderr
        hosts[2].start_sshd(tmp_path / "sshd", (tmp_path / "id_ed25519.pub").read_text())
        down = netlab("down", "routed", timeout=300)
        assert down.returncode == 0 and "down on 3 hosts" in down.stdout, down.stdout + down.stderr


def test_a_host_killed_mid_up_leaves_every_host_clean(tmp_path: Path) -> None:
    """kill -9 of h3's netlab while it applies its part (held 3 s in a command of the server): the controller
    sees h3 fail and takes every host down again -- h3's `down` removes what its killed `up` had made."""
    from tests.helpers import catalog_copy, netlab

    path = catalog_copy(tmp_path, "routed", "routed-killed")
    path.write_text(path.read_text().replace("      - {to: default, via: 10.0.2.1}\n",
                                             "      - {to: default, via: 10.0.2.1}\n    commands: [sleep 3]\n", 1))
    with _controlled_hosts(tmp_path, "routed-killed") as (hosts, inventory):
        up = subprocess.Popen([sys.executable, "-m", "netlab", "up", str(path), "--hosts", str(inventory)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h3_mnt = os.stat(f"/proc/{hosts[2].pid}/ns/mnt").st_ino
        deadline = time.monotonic() + 120
        found: list[int] = []
        while not found and time.monotonic() < deadline:
            for entry in os.scandir("/proc"):
                try:
                    if (entry.name.isdigit() and os.stat(f"/proc/{entry.name}/ns/mnt").st_ino == h3_mnt
                            and b"--on\x00h3" in Path(f"/proc/{entry.name}/cmdline").read_bytes()
                            and any(Path(f"/proc/{entry.name}/root/run/netns").iterdir())):
                        found.append(int(entry.name))  # its namespaces exist: it is applying
                except OSError:
                    continue
            time.sleep(0.02)
        assert found, "h3's netlab up was never seen applying"
        os.kill(min(found), 9)  # netlab itself, not a child it forked to run the command
        out, err = up.communicate(timeout=300)
        assert up.returncode != 0 and "h3: exit -9" in err, out + err
        for host in hosts:
            assert host.run("ip", "netns").stdout.strip() == "", host.name
            assert not list(Path(f"/proc/{host.pid}/root/run/netlab/labs").glob("*.json")), host.name
        assert netlab("status", "routed-killed").returncode != 0  # every host down: the record is gone


def test_clean_takes_every_host_down_after_the_controller_was_killed_during_up(tmp_path: Path) -> None:
    """kill -9 of the controller's `netlab up --hosts` (and the Ansible it runs) once a host is applying: the
    record says `applying` by a dead process, so the controller's `netlab clean` takes every host down."""
    from tests.helpers import catalog_copy, netlab

    path = catalog_copy(tmp_path, "routed", "routed-crash")
    path.write_text(path.read_text().replace("      - {to: default, via: 10.0.2.1}\n",
                                             "      - {to: default, via: 10.0.2.1}\n    commands: [sleep 3]\n", 1))
    # the killed controller cannot remove its Ansible work directory: it is under the run directory, where `clean`
    # finds it (a TMPDIR of its own shows that nothing is left in the machine's temporary directory either)
    run = Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))
    with _controlled_hosts(tmp_path, "routed-crash") as (hosts, inventory), \
            tempfile.TemporaryDirectory(prefix="nl-") as scratch:
        up = subprocess.Popen([sys.executable, "-m", "netlab", "up", str(path), "--hosts", str(inventory)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env={**os.environ, "TMPDIR": scratch})
        deadline = time.monotonic() + 120
        while not any(any(Path(f"/proc/{h.pid}/root/run/netns").iterdir()) for h in hosts):
            assert up.poll() is None and time.monotonic() < deadline, "no host ever started applying"
            time.sleep(0.02)
        os.killpg(up.pid, 9)
        up.wait()
        left = run / "ansible" / str(up.pid)
        assert (left / "owner").is_file()
        time.sleep(1)  # the hosts' sshd notice the controller is gone
        done = netlab("clean", timeout=300)
        assert done.returncode == 0 and "its controller died during up" in done.stdout, done.stdout + done.stderr
        assert f"removed the Ansible work directory of a dead controller (pid {up.pid})" in done.stdout
        assert not left.exists() and not os.listdir(scratch)
        for host in hosts:
            assert host.run("ip", "netns").stdout.strip() == "", host.name
            assert not list(Path(f"/proc/{host.pid}/root/run/netlab/labs").glob("*.json")), host.name
        assert "nothing to clean" in netlab("clean").stdout


def test_run_over_hosts_is_up_probes_down_with_a_junit_report(tmp_path: Path) -> None:
    """`netlab run lan --hosts INV --junit F`, what a CI job over several machines runs."""
    from tests.helpers import netlab

    with _controlled_hosts(tmp_path, "lan") as (hosts, inventory):
        junit = tmp_path / "lan.xml"
        done = netlab("run", "lan", "--hosts", str(inventory), "--junit", str(junit), timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "5 of 5 probes passed on 2 hosts" in done.stdout and "down on every host" in done.stderr
        assert junit.read_text().count("<testcase") == 5 and "failures=\"0\"" in junit.read_text()
        for host in hosts:
            assert host.run("ip", "netns").stdout.strip() == "", host.name
