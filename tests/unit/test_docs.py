"""docs/topology.md stays true: its example labs validate and its sample output is real output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netlab.cli.main import main
from netlab.model.plan import CreateBridge, CreateVeth
from tests.helpers import doc_blocks, documented, documented_labs, planned, problems, valid


def test_the_doc_has_the_example_labs() -> None:
    assert {re.search(r"^name: (\S+)", b, re.M).group(1) for b in documented_labs()} >= {  # type: ignore[union-attr]
        "routed", "draft", "campus"}


@pytest.mark.parametrize("name", ["routed", "campus"])
def test_example_lab_is_valid(name: str) -> None:
    assert valid(documented(name), f"{name}.yml").name == name


def test_full_example_becomes_what_the_doc_says() -> None:
    p = planned(documented("campus"), "campus.yml")
    assert len(p.actions) == 47
    assert p.namespaces == ("nl-campus.router", "nl-campus.server", "nl-campus.h1", "nl-campus.h2",
                            "nl-campus.h3", "nl-campus.office")
    (bridge,) = [a for a in p.actions if isinstance(a, CreateBridge)]
    assert (bridge.netns, bridge.name, bridge.index, bridge.mtu) == ("nl-campus.office", "br0", 32, 1400)
    srv0 = next(a for a in p.actions if isinstance(a, CreateVeth) and a.name == "srv0")
    assert (srv0.index, srv0.mtu, srv0.mac, srv0.peer_name) == (32, 9000, "02:00:00:00:02:01", "eth0")
    described = {a.describe() for a in p.actions}
    assert {"sysctl net.ipv4.conf.lan0.proxy_arp=0 in nl-campus.router",
            "sysctl net.ipv4.conf.eth0.rp_filter=0 in nl-campus.server",
            "sysctl net.ipv6.conf.eth0.accept_ra=0 in nl-campus.server"} <= described


def test_full_example_uses_every_key_of_the_format() -> None:
    text = documented("campus")
    keys = set(re.findall(r"([a-z_]+6?):", text))
    assert keys >= {"name", "description", "requires", "ipv6", "nodes", "links", "lans", "loopback", "sysctls",
                    "routes", "commands", "node", "interface", "address", "mac", "mtu", "members", "to", "via",
                    "dev", "metric", "src", "a", "b"}


def test_validation_example_output_is_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "draft.yml").write_text(documented("draft"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "draft.yml"]) == 2
    shown = next(b for b in doc_blocks("text") if b.startswith("$ netlab validate draft.yml\n"))
    assert capsys.readouterr().err == shown.split("\n", 1)[1]


def test_draft_is_invalid_for_the_reasons_shown() -> None:
    assert len(problems(documented("draft"), "draft.yml")) == 5
