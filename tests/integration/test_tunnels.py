"""The tunnel and sub-interface labs of the catalog, for real: every probe passes, and ``down`` leaves nothing.

VXLAN and macvlan run in this kernel; GRE, IPIP and ipvlan are kernel-marked and run in the full-kernel VM
(``netlab vm -- pytest tests/integration/test_tunnels.py``). Each lab comes up once (a VM has one slow CPU);
the shared ``root_untouched`` fixture checks the root namespace around every test.
"""

from __future__ import annotations

import json
import os

import pytest

from netlab.kernel.nodeinit import run_in_netns
from tests.helpers import REPO, netlab, run_results, running

pytestmark = pytest.mark.root


def run_lab(ref: str) -> None:
    """Up, every probe, down; asserts every probe passed and nothing is left behind."""
    with running(ref) as lab:
        suite = lab.probes()
        assert [str(r) for r in suite.failed] == [], f"{ref}: probes failed"
        assert len(suite.results) >= 5


@pytest.mark.kernel("vxlan", "bridge")
def test_vxlan_overlay_probes_pass() -> None:
    run_lab("vxlan-overlay")


@pytest.mark.kernel("macvlan")
def test_macvlan_half_of_underlay_probes_pass() -> None:
    run_lab(str(REPO / "tests" / "data" / "underlay-macvlan.yml"))


@pytest.mark.kernel("gre")
def test_gre_tunnel_probes_pass() -> None:
    """IPv4 and IPv6 cross; on the underlay it is proto 47 with key 42, the hosts only inside; ``status`` reads the
    tunnel back from the kernel (netlab.kernel.linkdump: the key as a big-endian number, the ends as text)."""
    run_lab("gre-tunnel")
    with running("gre-tunnel"):
        status = json.loads(netlab("status", "gre-tunnel", "--json").stdout)
    details = {i["name"]: i["detail"] for n in status["nodes"] if n["name"] == "r1" for i in n["interfaces"]}
    assert details["gre1"] == "gre key 42 10.0.1.1 → 10.0.2.1", details


@pytest.mark.kernel("ipip")
def test_ipip_tunnel_probes_pass() -> None:
    """IPv4 crosses as proto 4; IPv6 reaches r1 and is dropped by the IPIP device: nothing on the underlay."""
    run_lab("ipip-tunnel")


@pytest.mark.kernel("macvlan", "ipvlan")
def test_underlay_probes_pass() -> None:
    """macvlans answer ARP with their own MACs, ipvlans with their parent's; all reach each other and gw."""
    run_lab("underlay")


@pytest.mark.kernel("vxlan", "bridge")
def test_vxlan_overlay_status_shows_the_kernel_objects() -> None:
    """What ``up`` made is what the plan said: the vxlan's VNI/port/remote and the bridge ports, read back."""
    with running("vxlan-overlay"):
        fd = os.open("/run/netns/nl-vxlan-overlay.v1", os.O_RDONLY)
        try:
            out = run_in_netns(fd, ["ip", "-d", "-j", "link", "show", "vxlan1"], capture=True).stdout
        finally:
            os.close(fd)
        (link,) = json.loads(out)
        data = link["linkinfo"]["info_data"]
        assert (data["id"], data["remote"], data["local"], data["port"]) == (4242, "10.0.2.1", "10.0.1.1", 4789)
        assert link["master"] == "br0" and link["ifindex"] >= 32
        r = netlab("status", "vxlan-overlay")
        assert r.returncode == 0 and "vxlan1" in r.stdout


@pytest.mark.kernel("gre", "gretap", "ipip", "sit", "vxlan")
def test_tunnel_truth_table_every_cell_is_proved() -> None:
    """Each tunnel kind's IPv4/IPv6/multicast/ARP/MTU cell, as the kernel answers it (see the lab's table)."""
    results = run_results("tunnel-truth-table")
    assert "3 answered (0% loss)" in results["gre-ipv6"]["observed"]
    assert "0 answered (100% loss)" in results["sit-ipv4"]["observed"]
    assert "3 'message too long' from the sender" in results["ipip-mtu-plus-1"]["observed"]
    assert "east:eth0 2 in" in results["vxlan-outer-fragmented"]["observed"]
    assert "mtu 1450" in results["vxlan-pmtu-learned"]["observed"]


@pytest.mark.kernel("macvlan", "ipvlan")
def test_subinterface_modes_each_lets_through_what_it_should() -> None:
    """macvlan bridge/private/vepa and ipvlan l2/l3: reachability, where frames go, who answers ARP."""
    results = run_results("subinterface-modes")
    assert "0 answered (100% loss)" in results["private-isolated"]["observed"]
    assert "0 answered (100% loss)" in results["vepa-no-hairpin"]["observed"]
    assert results["l3-arp-unanswered"]["passed"] and results["l2-arp-parent-mac"]["passed"]
