"""docker-host for real: Docker's chains, a published port, DOCKER-USER first, and hairpin NAT -- which needs both
the hairpin flag on the bridge port and Docker's extra MASQUERADE rule: each removed once, the hairpin fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import catalog_copy, run_copy, running

pytestmark = [pytest.mark.root]


@pytest.mark.kernel("bridge", "iptables", "br_netfilter")
def test_docker_host_passes_with_netlab_run(tmp_path: Path) -> None:
    run_copy(tmp_path, "docker-host", "docker-host-run", probes=11)


@pytest.mark.kernel("bridge", "iptables", "br_netfilter")
@pytest.mark.parametrize(("old", "new", "failing"), [
    ("hairpin: [veth1, veth2], ", "", {"hairpin-port", "hairpin", "hairpin-masqueraded", "hairpin-rule-counted"}),
    ('"-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE"',
     '"-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80"',
     {"hairpin", "hairpin-masqueraded"}),
])
def test_hairpin_needs_the_port_flag_and_the_masquerade(tmp_path: Path, old: str, new: str,
                                                        failing: set[str]) -> None:
    path = catalog_copy(tmp_path, "docker-host", "docker-host-nohp")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with running(path) as lab:
        failed = {r.name for r in lab.probes().failed}
    assert failed == failing
