"""Every behaviour a catalog lab's description states is tied to the probes that prove it (``claims:``).

validate checks each claim (its words are in the description, its probes exist); this test makes every catalog lab
(exercises aside) state them, so a new lab cannot ship a description its probes do not back."""

from __future__ import annotations

from netlab import catalog
from netlab.api import Lab
from tests.helpers import problems


def test_every_lab_states_its_claims() -> None:
    """Exercises aside: their description is the broken start, and what grades them is their checks, each with the
    `why` a failure means (netlab.features.exercises)."""
    labs = {name: Lab.load(name).topology for name in catalog.names()}
    without = sorted(name for name, topo in labs.items() if topo.exercise is None and not topo.claims)
    assert without == [], "each lab needs `claims:` (its description's statements and the probes that prove them)"
    assert sum(1 for topo in labs.values() if topo.claims) >= 16


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
