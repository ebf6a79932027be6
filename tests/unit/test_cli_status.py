"""``netlab status`` rendering, from a typed LabStatus (no kernel): what a learner reads, and its JSON."""

from __future__ import annotations

import io
import json

from rich.console import Console

from netlab.cli import status
from netlab.cli.common import console
from netlab.core.derived import DerivedSetting
from netlab.features.iptables import status as iptables_status
from netlab.features.iptables.kernel import ChainPolicy, RuleCounter
from netlab.features.iptables.status import IptablesStatus
from netlab.features.ipvs import status as ipvs_status
from netlab.features.ipvs.kernel import DestStats, ServiceStats
from netlab.status import InterfaceStatus, LabStatus, NodeStatus

LO = InterfaceStatus("lo", 1, "UNKNOWN", "00:00:00:00:00:00", 65536, ("127.0.0.1/8",), "loopback")
ETH0 = InterfaceStatus("eth0", 2, "UP", "0a:c9:05:ab:91:27", 1500, ("10.0.1.1/24",), "veth", "netlab:t")
GRE0 = InterfaceStatus("gre0", 3, "DOWN", "", 1476, (), "gre")
LAB = LabStatus(
    lab="t", status="up", run="abcd1234", source="/labs/t.yml", description="a test lab", created=1.5,
    nodes=(NodeStatus("director", "node", "nl-t.director", True, "", (LO, ETH0, GRE0)),
           NodeStatus("gone", "node", "nl-t.gone", False, "", ())),
    derived=(DerivedSetting("rs1", "sysctl", "net.ipv4.conf.all.arp_ignore", "1", "DR: the VIP is on lo", False),
             DerivedSetting("rs1", "route", "default", "10.0.0.1", "NAT: replies via the director", True)),
    features={
        "ipvs": (ipvs_status.part("director", (ServiceStats(
            "tcp", "10.0.0.100", 80, 0, "rr", 0, 3, 15, 0,
            (DestStats("10.0.0.11", 80, "route", 1, 0, 0, 3, 15, 0),)),)),),
        "iptables": (iptables_status.part("director", IptablesStatus(
            (RuleCounter("filter", "FORWARD", "-A FORWARD -p tcp --dport 7 -j DROP", 4, 240),),
            (ChainPolicy("filter", "INPUT", "DROP", 2, 120), ChainPolicy("nat", "OUTPUT", "ACCEPT", 0, 0)))),)},
)


def rendered() -> str:
    out = io.StringIO()
    con = Console(file=out, width=200, highlight=False, emoji=False)
    con.print(status._interfaces_table(LAB.nodes))
    status._print_features(con, LAB)
    status._print_derived(con, LAB)
    return out.getvalue()


def test_status_shows_interfaces_missing_namespaces_ipvs_iptables_and_derived_settings() -> None:
    text = rendered()
    assert "0a:c9:05:ab:91:27" in text and "10.0.1.1/24" in text
    assert "gre0" not in text and "127.0.0.1" not in text, "kernel fallback devices and a bare lo are noise"
    assert "MISSING" in text
    assert "TCP 10.0.0.100:80" in text and "-> 10.0.0.11:80" in text and "Route" in text
    assert "(policy DROP)" in text and "(policy ACCEPT)" not in text and "-p tcp --dport 7 -j DROP" in text
    assert "rs1: net.ipv4.conf.all.arp_ignore=1" in text and "DR: the VIP is on lo" in text
    assert "rs1: route default via 10.0.0.1  (overridden by the topology)" in text


def test_status_json_is_the_typed_status_as_plain_data() -> None:
    data = json.loads(json.dumps(LAB.to_json()))
    assert list(data) == ["lab", "status", "run", "source", "description", "created", "nodes", "derived", "host",
                          "ipvs", "iptables"]
    assert data["nodes"][0]["interfaces"][1]["alias"] == "netlab:t"
    assert data["derived"][1] == {"node": "rs1", "kind": "route", "target": "default", "value": "10.0.0.1",
                                  "reason": "NAT: replies via the director", "overridden": True}
    assert data["ipvs"]["director"][0]["dests"][0]["forward"] == "route"
    assert data["iptables"]["director"]["policies"][0]["policy"] == "DROP"


def test_a_mac_address_is_never_turned_into_an_emoji() -> None:
    """rich reads ``:ab:`` as an emoji code; the console of every verb has them off."""
    con = console()
    with con.capture() as captured:
        con.print("0a:c9:05:ab:91:27")
    assert captured.get().strip() == "0a:c9:05:ab:91:27"
