"""Every behaviour a catalog lab's description states is tied to the probes that prove it (``claims:``).

validate checks each claim (its words are in the description, its probes exist); this test is the ratchet: a lab
without claims must be listed below, so a new lab cannot ship without them and the list only shrinks."""

from __future__ import annotations

from netlab import catalog
from netlab.api import Lab
from tests.helpers import problems

NOT_YET = {
    "arp-problem", "bridge-nat", "ex-bridge-masquerade", "ex-bufferbloat", "ex-dnat-forward", "ex-dr-vip-on-eth0",
    "ex-gre-mtu", "ex-input-vs-forward", "ex-ipip-ipv6", "ex-nat-return", "ex-return-route", "ex-router-forwarding",
    "ex-rp-filter", "ex-tun-rp-filter", "ex-vxlan-port", "ex-vxlan-vni", "ex-wrr-ratio", "firewalled", "ipvs-nat",
    "ipvs-schedulers", "lan", "tun-mode", "underlay",
}
"""Catalog labs whose description is not yet tied to probes claim by claim."""


def test_every_lab_states_its_claims_but_the_listed_ones() -> None:
    without = {name for name in catalog.names() if not Lab.load(name).topology.claims}
    assert without - NOT_YET == set(), "a new lab needs `claims:` (its description's statements and their probes)"
    assert NOT_YET - without == set(), "these labs have claims now: remove them from NOT_YET"


def test_every_probe_a_claim_names_exists_and_its_words_are_in_the_description() -> None:
    for name in catalog.names():
        lab = Lab.load(name)
        probes = {p.name for p in lab.topology.probes}
        text = " ".join(lab.topology.description.lower().split())
        for claim in lab.topology.claims:
            assert set(claim.probes) <= probes, (name, claim)
            assert " ".join(claim.text.lower().split()) in text, (name, claim.text)


def test_a_claim_the_description_does_not_make_or_with_a_missing_probe_is_an_error() -> None:
    found = problems("""name: t
description: the router answers with ICMP network unreachable
nodes: {a: {}}
probes:
  - {name: p, kind: ping, from: a, to: 10.0.0.2}
claims:
  - {text: "ICMP  network unreachable", probes: p}
  - {text: "packets fly", probes: [p, q]}
""")
    assert [(d.path, d.message) for d in found] == [
        ("claims[1].probes[1]", "no probe named 'q'"), ("claims[1].text", "the description does not say 'packets fly'")]
