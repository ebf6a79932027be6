"""Services and probes in the topology: parsing, validation messages, resolve, plan (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.model.plan import PHASES, StartService
from netlab.probes import spec
from netlab.probes.context import LabView
from netlab.probes.model import Amount, CaptureProbe
from tests import helpers
from tests.helpers import lab_from, two_nodes

BASE = two_nodes(a="\n    services: [{kind: http}, {kind: udp-echo}, "
                   "{name: vip, kind: tcp-echo, address: 192.0.2.1, port: 8080}]")


def problems(text: str) -> list[str]:
    return [f"{d.line}: {d.path}: {d.message}" + (f" | {d.hint}" if d.hint else "") for d in helpers.problems(text)]


def test_every_probe_kind_parses_and_is_recorded_with_from(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, BASE + """probes:
  - {name: p, kind: ping, from: b, to: 10.0.0.1}
  - {name: t, kind: tcp, from: b, to: 10.0.0.1, port: 8080}
  - {name: u, kind: udp, from: b, to: 10.0.0.1}
  - {name: h, kind: http, from: b, to: 10.0.0.1, served_by: a, body: a}
  - {name: r, kind: arp, from: b, to: 10.0.0.1, answered_by: [a]}
  - {name: c, kind: capture, during: p, at: a:eth0, filter: icmp, match: {IP.src: 10.0.0.2}, packets: 3}
  - {name: d, kind: distribution, from: b, to: 10.0.0.1, shares: {a: 1}}
  - {name: k, kind: counters, node: a, during: t, chain: INPUT, packets: {min: 1}}
  - {name: s, kind: sysctl, node: a, key: net.ipv4.ip_forward, value: 0}
  - {name: x, kind: state, node: a, command: ip link, contains: eth0}
""")
    kinds = [p.kind for p in lab.topology.probes]
    assert kinds == ["ping", "tcp", "udp", "http", "arp", "capture", "distribution", "counters", "sysctl", "state"]
    assert lab.resolved.probes[0] == {**lab.resolved.probes[0], "from": "b", "to": "10.0.0.1", "kind": "ping"}
    capture = lab.topology.probes[5]
    assert isinstance(capture, CaptureProbe) and capture.at == ("a:eth0",)
    assert capture.packets == Amount(min=3, max=3)
    view = LabView.from_resolved(lab.resolved)
    assert list(view.probes) == ["p", "t", "u", "h", "r", "c", "d", "k", "s", "x"]
    assert isinstance(view.probes["p"], spec.PingProbe) and view.probes["p"].from_ == "b"  # read without pydantic
    assert view.probes["c"] == spec.CaptureProbe(name="c", kind="capture", during="p", at=("a:eth0",),
                                                 packets=spec.Amount(min=3, max=3), filter="icmp",
                                                 match={"IP.src": "10.0.0.2"})


def test_services_start_last_but_for_the_limits_put_on_them(tmp_path: Path) -> None:
    plan = lab_from(tmp_path, BASE).plan()
    assert PHASES[-2:] == ("services", "limits")
    starts = [a for a in plan.actions if isinstance(a, StartService)]
    assert [(s.name, s.kind, s.protocol, s.address, s.port) for s in starts] == [
        ("http", "http", "tcp", "0.0.0.0", 80), ("udp-echo", "udp-echo", "udp", "0.0.0.0", 7),
        ("vip", "tcp-echo", "tcp", "192.0.2.1", 8080)]
    assert plan.actions[-len(starts):] == tuple(starts)
    assert starts[0].body == "a\n"  # an http service names its node
    assert starts[0].describe() == "start http service http on tcp 0.0.0.0:80 in a"


def test_shape_errors_of_probes_and_services_name_the_kind(tmp_path: Path) -> None:
    found = problems(BASE.replace("{kind: udp-echo}", "{kind: udp-ech}") + """probes:
  - {name: p, kind: pign, from: b, to: 10.0.0.1}
  - {name: q, kind: ping, from: b, to: 10.0.0.1, cuont: 3}
  - {name: c, kind: capture, during: q, on: a:eth0, packets: 1}
  - {kind: tcp, from: b, to: 10.0.0.1}
""")
    assert found == [
        "4: nodes.a.services[1]: unknown service kind 'udp-ech' | did you mean 'udp-echo'?",
        "10: probes[0]: unknown probe kind 'pign' | did you mean 'ping'?",
        "11: probes[1].cuont: unknown key 'cuont' for a ping probe | did you mean 'count'?",
        "12: probes[2].True: a key YAML reads as true (on, off, yes, no are booleans in YAML) | for a capture, the "
        "interfaces are `at:`; otherwise quote the key",
        "12: probes[2].at: required key 'at' is missing",
        "13: probes[3].name: required key 'name' is missing",
    ]


def test_cross_references_are_checked(tmp_path: Path) -> None:
    found = problems(BASE.replace("{kind: udp-echo}", "{kind: http, port: 80}") + """probes:
  - {name: p, kind: ping, from: c, to: 10.0.0.1}
  - {name: p, kind: tcp, from: b, to: not-an-ip}
  - {name: cap, kind: capture, during: s, at: [a:eth7, b], filter: "tcp port", packets: 0}
  - {name: s, kind: sysctl, node: a, key: kernel.hostname, value: x}
  - {name: r, kind: arp, from: b, to: "2001:db8::1", answered_by: z}
  - {name: d, kind: distribution, from: b, to: 10.0.0.1}
  - {name: k, kind: counters, node: a, during: nope}
""")
    expected = [
        "4: nodes.a.services[1]: node 'a' already has a service named 'http' | also at services[0]; give one of "
        "them a `name:`",
        "4: nodes.a.services[1].port: TCP port 80 is already taken in node 'a' | by services[0]; two servers "
        "cannot listen on one port and address",
        "10: probes[0].from: unknown node 'c' | nodes are: a, b",
        "11: probes[1].name: probe name 'p' is used twice | also at probes[0]",
        "11: probes[1].to: 'not-an-ip' is not an IP address | a single address without prefix: 10.0.2.10 or "
        "2001:db8::10",
        "12: probes[2].at[0]: node 'a' has no interface 'eth7' | did you mean 'eth0'?",
        "12: probes[2].at[1]: 'b' does not name an interface | write node:interface, e.g. router:eth1",
        "12: probes[2].during: probe 's' is a sysctl probe, which makes no traffic | name a probe of kind ping, "
        "tcp, udp, http, arp, distribution, flow",
        "13: probes[3].key: 'kernel.hostname' is not a network sysctl | only net.* sysctls belong to a node's "
        "namespace",
        "14: probes[4].answered_by: unknown node 'z' | nodes are: a, b",
        "14: probes[4].to: ARP exists only in IPv4 | IPv6 uses neighbour discovery instead",
        "15: probes[5]: a distribution probe needs `shares`, `sticky` or `servers` | e.g. shares: {rs1: 1, rs2: 1} "
        "for an even split",
        "16: probes[6]: a counters probe needs a `rule` (text selecting one rule) or a `chain` (its policy), or "
        "`ipvs`",
        "16: probes[6]: a counters probe needs `packets` and/or `bytes` | e.g. packets: {min: 1}",
        "16: probes[6].during: no probe named 'nope' | `during` names another probe of this lab",
    ]
    bpf = [p for p in found if ".filter:" in p]
    if bpf:  # libpcap present: the filter is compiled at validation time
        assert bpf[0].startswith("12: probes[2].filter: filter 'tcp port' is not a valid BPF filter")
    assert [p for p in found if ".filter:" not in p] == expected


def test_amount_words() -> None:
    Amount = spec.Amount  # the record the runners check counts with
    assert Amount(min=0, max=0).describe("packet") == "exactly 0 packets"
    assert Amount(min=1).describe("packet") == "at least 1 packet"
    assert Amount(max=5).describe("byte") == "at most 5 bytes"
    assert Amount(min=2, max=4).describe("packet") == "between 2 and 4 packets"
    assert Amount(min=1).accepts(1) and not Amount(min=0, max=0).accepts(1)


def test_the_schema_describes_probes_and_services() -> None:
    from netlab.model.schema import topology_schema

    schema = topology_schema()
    assert "probes" in schema["properties"]
    ping = schema["$defs"]["PingProbe"]
    assert "from" in ping["properties"] and ping["properties"]["from"]["description"]
    undocumented = [f"{name}.{key}" for name, d in schema["$defs"].items() if name.endswith(("Probe", "Service"))
                    for key, prop in d["properties"].items() if not prop.get("description")]
    assert undocumented == []


def test_a_ping_names_the_icmp_error_it_expects_from_the_known_ones() -> None:
    from pydantic import ValidationError

    from netlab.probes.model import PingProbe

    ok = PingProbe.model_validate({"kind": "ping", "name": "p", "from": "a", "to": "10.0.0.1", "loss": 100,
                                   "error": "network unreachable"})
    assert ok.error == "network unreachable"
    with pytest.raises(ValidationError, match=r"not an ICMP error netlab names; one of: .*TTL exceeded in transit"):
        PingProbe.model_validate({"kind": "ping", "name": "p", "from": "a", "to": "10.0.0.1", "error": "net unreach"})


def test_a_ping_of_size_1422_is_a_1450_byte_packet() -> None:
    from netlab.probes.ping import _echo

    assert len(_echo(False, 1, 1)) == 8 + 20  # the default: our timestamp and tag
    assert 20 + len(_echo(False, 1, 1, 1422)) == 1450  # + the IPv4 header: what `ping -s 1422` sends


def test_proc_net_dev_is_read_per_interface() -> None:
    from netlab.probes.linkcounters import parse_dev

    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
            "carrier compressed\n"
            "    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0 "
            "      0          0\n"
            " ipip1:       0       0    0    0    0     0          0         0        0       0    7    1    0     0 "
            "      0          0\n")
    assert parse_dev(text, "ipip1") == {"rx_packets": 0, "rx_errors": 0, "rx_dropped": 0, "tx_packets": 0,
                                        "tx_errors": 7, "tx_dropped": 1}
    assert parse_dev(text, "eth0") is None


def test_an_expected_icmp_error_needs_an_expected_loss() -> None:
    from tests.helpers import problems

    ping = "{name: p, kind: ping, from: a, to: 10.0.0.2, error: host unreachable}"
    found = problems(two_nodes(tail=f"probes:\n  - {ping}\n"))
    assert [(d.path, d.hint) for d in found] == [("probes[0].error", "give `loss:` (100: none answered)")]



def test_no_model_parses_its_source_at_import() -> None:
    """Field docstrings reach the schema (netlab.model.schema) without pydantic's use_attribute_docstrings, which
    parses every model's source when the class is created (≈ 60 ms of every up, validate and probe)."""
    from pydantic import BaseModel

    from netlab.model.topology import Topology  # noqa: F401  (imports every model)

    def every(cls: type) -> list[type]:
        return [cls, *(c for sub in cls.__subclasses__() for c in every(sub))]

    ours = [c for c in every(BaseModel) if c.__module__.startswith("netlab.")]
    assert len(ours) > 40
    assert [c.__qualname__ for c in ours if c.model_config.get("use_attribute_docstrings")] == []  # type: ignore[attr-defined]
