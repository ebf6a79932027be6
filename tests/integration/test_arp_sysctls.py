"""arp-sysctls for real: ARP sysctls on lo change nothing, and arp_announce decides whether a real server's own
ARP request poisons the router's entry for the VIP. Each claim is also turned false once, and exactly the probe
behind it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import catalog_copy, run_copy, running

pytestmark = [pytest.mark.root]


def test_arp_sysctls_passes_with_netlab_run(tmp_path: Path) -> None:
    run_copy(tmp_path, "arp-sysctls", "arp-sysctls-run", probes=7)


def test_the_same_sysctls_on_eth0_silence_rs1_and_stop_the_poisoning(tmp_path: Path) -> None:
    """Moved from lo to eth0, rs1's settings work: it no longer answers who-has for the VIP, and its request
    no longer names the VIP -- the two probes that show lo changes nothing now fail."""
    path = catalog_copy(tmp_path, "arp-sysctls", "arp-sysctls-eth0")
    path.write_text(path.read_text().replace("net.ipv4.conf.lo.arp_ignore: 1, net.ipv4.conf.lo.arp_announce: 2",
                                             "net.ipv4.conf.eth0.arp_ignore: 1, net.ipv4.conf.eth0.arp_announce: 2"))
    with running(path) as lab:
        failed = {r.name: r for r in lab.probes().failed}
    assert set(failed) == {"rs1-eth0-default", "rs1-lo-set", "router-poisoned-by-rs1", "who-has-vip"}, [
        str(r) for r in failed.values()]
