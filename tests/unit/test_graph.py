"""``netlab graph``: what the diagram shows of a lab (from the topology alone, no root), the observed path drawn
over it, Mermaid, and what happens without Graphviz."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.cli.main import main
from netlab.errors import MissingTool
from netlab.probes.path import Hop, PathRecord, ProbePath
from netlab.views import diagram, graph


def drawn(lab: str, record: PathRecord | None = None) -> diagram.Diagram:
    return diagram.build(Lab.load(lab).resolved, record)


def box(d: diagram.Diagram, name: str) -> diagram.Box:
    return next(b for b in d.nodes if b.name == name)


def record(lab: str = "routed") -> PathRecord:
    hops = (Hop(0.0, "request", "client", "eth0", "router", "eth0", "ICMP echo request"),
            Hop(0.1, "request", "router", "eth1", "server", "eth0", "ICMP echo request"),
            Hop(0.2, "reply", "server", "eth0", "router", "eth1", "ICMP echo reply"),
            Hop(0.3, "reply", "router", "eth0", "client", "eth0", "ICMP echo reply"))
    ping = ProbePath("client-ping", "ping", "client", ("10.0.2.10",), True, (), hops)
    web = ProbePath("web", "http", "client", ("10.0.2.10",), True, (), hops[:1])
    return PathRecord(lab, "2025-01-01T00:00:00+00:00", (ping, web))


def test_the_ipvs_director_and_real_servers_get_their_roles_and_the_vip() -> None:
    d = drawn("dr-mode")
    assert box(d, "director").roles == ("IPVS director",)
    assert "VIP 10.0.10.100/32 on eth0" in box(d, "director").notes
    assert box(d, "rs1").roles == ("real server (DR)",)
    assert "VIP 10.0.10.100/32 on lo" in box(d, "rs1").notes
    assert diagram.Extra(("director", None), ("rs1", None), "web, echo (DR)") in d.extras


def test_a_nat_real_server_gets_no_vip_on_lo() -> None:
    d = drawn("ipvs-nat")
    assert box(d, "rs1").roles == ("real server (NAT)",)
    assert not any("VIP" in note for note in box(d, "rs1").notes)


def test_a_lan_is_one_segment_node_with_every_member_wired_to_it() -> None:
    d = drawn("dr-mode")
    assert [(lan.name, lan.subnets) for lan in d.lans] == [("servers", ("10.0.10.0/24",))]
    assert d.lans[0].members == (("router", "eth1"), ("director", "eth0"), ("rs1", "eth0"), ("rs2", "eth0"))
    text = graph.dot(d)
    assert '"router":"eth1" -> "lan:servers";' in text
    assert '"lan:servers" -> "rs1":"eth0";' in text


def test_a_point_to_point_link_joins_two_interfaces_and_names_its_subnet() -> None:
    d = drawn("routed")
    assert diagram.Link(("client", "eth0"), ("router", "eth0"), ("10.0.1.0/24",)) in d.links
    assert '"client":"eth0" -> "router":"eth0" [label="10.0.1.0/24"];' in graph.dot(d)


def test_a_tunnel_is_an_edge_between_its_interfaces_with_kind_and_key() -> None:
    d = drawn("gre-tunnel")
    assert diagram.Extra(("r1", "gre1"), ("r2", "gre1"), "gre key 42 (sites)") in d.extras
    assert box(d, "r1").roles == ("GRE end",)
    assert "gre1: gre 10.0.1.1 → 10.0.2.1" in box(d, "r1").notes
    assert ("gre1", ("192.168.100.1/30", "fd00:100::1/64")) in [(i.name, i.addresses) for i in box(d, "r1").interfaces]


def test_a_vxlan_tunnel_shows_its_vni_and_port_and_the_node_bridge() -> None:
    d = drawn("vxlan-overlay")
    assert diagram.Extra(("v1", "vxlan1"), ("v2", "vxlan1"), "vxlan vni 4242 udp/4789 (overlay)") in d.extras
    assert box(d, "v1").roles == ("VTEP",)
    assert "br0: bridge of eth0, vxlan1" in box(d, "v1").notes


def test_a_sub_interface_in_another_node_is_drawn_from_its_parent() -> None:
    d = drawn("underlay")
    assert diagram.Extra(("host", "eth0"), ("m1", "mv0"), "macvlan bridge") in d.extras
    assert "mv0: macvlan (bridge) on host:eth0" in box(d, "m1").notes


def test_the_peer_of_each_interface_is_named() -> None:
    d = drawn("dr-mode")
    assert box(d, "client").interfaces[0].peer == "router:eth0"
    assert box(d, "rs1").interfaces[0].peer == "LAN servers (router, director, rs2)"


def test_the_observed_path_is_drawn_request_solid_blue_and_reply_dashed_green() -> None:
    text = graph.dot(drawn("routed", record()))
    request = next(line for line in text.splitlines() if line.startswith('  "client":"eth0" -> "router":"eth0" [dir'))
    reply = next(line for line in text.splitlines() if line.startswith('  "router":"eth0" -> "client":"eth0" [dir'))
    assert f'color="{graph.REQUEST}"' in request and "dashed" not in request
    assert 'label="client-ping, web"' in request and "constraint=false" in request
    assert f'color="{graph.REPLY}"' in reply and "style=dashed" in reply and 'label="client-ping"' in reply
    assert "observed path (2025-01-01T00:00:00+00:00)" in text


def test_only_the_chosen_probes_are_drawn() -> None:
    d = diagram.build(Lab.load("routed").resolved, record(), ["web"])
    assert [(e.role, e.a, e.b, e.probes) for e in d.path] == [("request", ("client", "eth0"), ("router", "eth0"),
                                                                ("web",))]


def test_many_probes_on_one_edge_are_shortened_in_the_label() -> None:
    assert graph._names(("a", "b", "c", "d", "e")) == "a, b, c +2"


def test_mermaid_has_every_node_link_and_path_edge() -> None:
    text = graph.mermaid(drawn("routed", record()))
    assert text.startswith("flowchart LR\n")
    assert '  n_client ---|"10.0.1.0/24"| n_router' in text
    assert '  n_client -->|"client-ping, web"| n_router' in text
    assert '  n_router -.->|"client-ping"| n_client' in text
    assert f"stroke:{graph.REPLY}" in text


def test_text_from_the_lab_file_is_escaped_in_dot_and_mermaid() -> None:
    b = diagram.Box('a"b', 'say "hi" <b>\\', ("<role>",), (diagram.Interface("eth0", ("10.0.0.1/24",), ""),), ("x|y",))
    d = diagram.Diagram("t", "", (b,), (), (), ())
    text = graph.dot(d)
    assert '"a\\"b" [label=<' in text and "&lt;role&gt;" in text and 'tooltip="say \\"hi\\" <b>\\\\"' in text
    assert "#lt;role#gt;" in graph.mermaid(d) and "x|y" not in graph.mermaid(d).split("\n", 2)[1]


def test_the_missing_dot_hint_names_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    from netlab.kernel import tools

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(tools, "with_sbin", lambda path: "/nonexistent")
    with pytest.raises(MissingTool) as err:
        graph.render("digraph {}", "svg")
    assert "apt-get install -y graphviz" in str(err.value)


def test_graph_prints_dot_without_root_or_graphviz(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "routed", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "routed" {') and out.endswith("}\n")


def test_graph_takes_the_format_from_the_output_suffix(tmp_path: Path) -> None:
    target = tmp_path / "routed.mmd"
    assert main(["graph", "routed", "-o", str(target)]) == 0
    assert target.read_text().startswith("flowchart LR")


def test_graph_path_without_a_record_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETLAB_RUN_DIR", str(tmp_path))
    assert main(["graph", "routed", "--path", "--format", "dot"]) == 2
    assert "netlab probe routed" in capsys.readouterr().err


def test_graph_draws_a_record_copied_from_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "path.json"
    saved.write_text(record().to_json())
    assert main(["graph", "routed", "--path-from", str(saved), "--format", "dot"]) == 0
    assert "dir=forward" in capsys.readouterr().out


def test_graph_refuses_a_probe_the_record_does_not_have(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "path.json"
    saved.write_text(record().to_json())
    assert main(["graph", "routed", "--path-from", str(saved), "--probe", "nope", "--format", "dot"]) == 2
    assert "it has: client-ping, web" in capsys.readouterr().err


def test_graph_refuses_a_file_that_is_not_a_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "path.json"
    saved.write_text(json.dumps({"something": "else"}))
    assert main(["graph", "routed", "--path-from", str(saved)]) == 2
    assert "not a netlab path record" in capsys.readouterr().err


def test_the_record_in_the_run_directory_is_read_without_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from netlab.api import PATH_FILE, observed_path

    monkeypatch.setenv("NETLAB_RUN_DIR", str(tmp_path))
    (tmp_path / "logs" / "routed").mkdir(parents=True)
    (tmp_path / "logs" / "routed" / PATH_FILE).write_text(record().to_json())
    os.chmod(tmp_path / "logs" / "routed" / PATH_FILE, 0o644)
    assert observed_path("routed") == record()


@pytest.mark.parametrize("verb", ["graph", "handout"])
def test_the_view_verbs_have_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([verb, "--help"])
    assert done.value.code == 0
    assert "--path" in capsys.readouterr().out
