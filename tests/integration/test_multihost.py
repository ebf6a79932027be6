"""A catalog lab cut over three namespace-hosts (tests/helpers/hosts.py): each host applies its own plan with the
same apply code as one machine, the cut links become VXLAN stitches over the underlay, and traffic crosses them --
the client on h1 reaches the server on h3 through the router on h2, and what crosses the underlay is VXLAN.
Each host runs what the orchestration runs there: ``netlab up LAB --hosts INV --on HOST``, its probes, ``down``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.model.plan import CreateStitch
from netlab.multihost.inventory import load as load_inventory
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
