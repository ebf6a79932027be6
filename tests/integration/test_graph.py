"""The observed path for real: a probe run records which node interfaces saw the probes' packets, and the hops
it draws come from those captures, not from the topology.

Proof that it is observation: on ``routed`` request and reply both cross the router, until forwarding is
switched off -- then the same probe's request stops at the router and no reply is seen at all, while the
topology has not changed. With IPVS (kernel-marked: it runs in the full-kernel VM, ``scripts/isolated netlab
vm -- python -m pytest -q -p no:cacheprovider -m kernel tests/integration/test_graph.py``): in ``dr-mode``
the replies skip the director, in ``ipvs-nat`` they cross it -- two labs whose wiring to the real servers is
the same LAN.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netlab.api import Lab, observed_path
from netlab.probes.path import ProbePath
from netlab.views import diagram, graph
from tests.helpers import running

pytestmark = pytest.mark.root


def path_of(lab: Lab, probe: str) -> ProbePath:
    suite = lab.probes([probe])
    assert [str(r) for r in suite.failed] == []
    return next(p for p in suite.paths if p.probe == probe)


def touches(edges: list[tuple[str, str]], node: str) -> bool:
    return any(node in edge for edge in edges)


@pytest.fixture(scope="module")
def routed() -> Iterator[Lab]:
    with running("routed", name_suffix="graph") as lab:
        yield lab


def test_on_routed_request_and_reply_both_cross_the_router(routed: Lab) -> None:
    for probe in ("client-ping", "client-to-server", "udp-echo", "web"):
        path = path_of(routed, probe)
        assert path.edges("request") == [("client", "router"), ("router", "server")], probe
        assert path.edges("reply") == [("server", "router"), ("router", "client")], probe
        hop = path.hops[0]
        assert (hop.from_interface, hop.to_interface) == ("eth0", "eth0")


def test_every_interface_that_saw_the_probe_is_recorded_in_order(routed: Lab) -> None:
    path = path_of(routed, "client-ping")
    first = [(o.node, o.interface, o.direction, o.role) for o in path.observations[:8]]
    assert first == [("client", "eth0", "out", "request"), ("router", "eth0", "in", "request"),
                     ("router", "eth1", "out", "request"), ("server", "eth0", "in", "request"),
                     ("server", "eth0", "out", "reply"), ("router", "eth1", "in", "reply"),
                     ("router", "eth0", "out", "reply"), ("client", "eth0", "in", "reply")]
    assert "ICMP echo request" in path.observations[0].packet
    assert [o.t for o in path.observations] == sorted(o.t for o in path.observations)


def test_the_path_follows_what_the_kernel_did_not_the_topology(routed: Lab) -> None:
    routed.exec("router", ["sysctl", "-qw", "net.ipv4.ip_forward=0"])
    try:
        suite = routed.probes(["client-ping"])
    finally:
        routed.exec("router", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    assert not suite["client-ping"].passed
    path = suite.paths[0]
    assert path.edges("request") == [("client", "router")]
    assert not touches(path.edges("request") + path.edges("reply"), "server")


def test_the_last_run_is_kept_in_the_run_directory_and_drawn(routed: Lab) -> None:
    routed.probes(["client-ping", "through-the-router"])
    record = observed_path(routed.name, routed.store)
    assert [p.probe for p in record.paths] == ["client-ping"]
    path = routed.store.logs_dir / routed.name / "path.json"
    assert path.stat().st_uid == 0 and path.stat().st_mode & 0o777 == 0o644
    text = graph.dot(diagram.build(routed.resolved, record))
    assert f'"router":"eth1" -> "server":"eth0" [dir=forward, color="{graph.REQUEST}"' in text
    assert f'"server":"eth0" -> "router":"eth1" [dir=forward, color="{graph.REPLY}"' in text


def test_without_the_recorder_nothing_is_recorded_and_the_last_record_stays(routed: Lab) -> None:
    routed.probes(["web"])
    suite = routed.probes(["client-ping"], record_path=False)
    assert suite.passed and suite.paths == ()
    assert [p.probe for p in observed_path(routed.name, routed.store).paths] == ["web"]


def test_a_probe_run_again_by_a_capture_is_recorded_once(routed: Lab) -> None:
    suite = routed.probes(["client-ping", "through-the-router"])
    assert [p.probe for p in suite.paths] == ["client-ping"]
    assert suite.passed


@pytest.mark.kernel("ip_vs", "ip_vs_rr")
def test_in_dr_mode_the_replies_skip_the_director() -> None:
    with running("dr-mode", name_suffix="graph") as lab:
        for probe in ("web", "selftest-echo"):
            path = path_of(lab, probe)
            request, reply = path.edges("request"), path.edges("reply")
            assert request[:2] == [("client", "router"), ("router", "director")], probe
            assert request[2] in (("director", "rs1"), ("director", "rs2")), probe
            assert reply and not touches(reply, "director"), (probe, reply)
            assert reply[0] == (request[2][1], "router") and reply[-1] == ("router", "client"), probe


@pytest.mark.kernel("ip_vs", "ip_vs_rr")
def test_in_ipvs_nat_the_replies_cross_the_director() -> None:
    with running("ipvs-nat", name_suffix="graph") as lab:
        for probe in ("web", "selftest-echo"):
            path = path_of(lab, probe)
            request, reply = path.edges("request"), path.edges("reply")
            assert request[0] == ("client", "director") and request[1] in (("director", "rs1"), ("director", "rs2"))
            server = request[1][1]
            assert reply == [(server, "director"), ("director", "client")], probe
