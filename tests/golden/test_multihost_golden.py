"""Golden per-host cuts: placement, stitched links and each host's plan, as ``netlab up LAB --hosts INV --dry-run
--json`` prints them, for catalog labs over a fixed inventory."""

from __future__ import annotations

import json

import pytest

from netlab.cli.multihost import split, to_dict
from tests.golden.test_golden import HERE, check_golden

CASES = [("routed", "inventory-3"), ("dr-mode", "inventory-2"), ("lan", "inventory-3"), ("tun-mode", "inventory-3")]


@pytest.mark.parametrize(("lab", "inventory"), CASES)
def test_cut_of_catalog_lab_matches_golden(lab: str, inventory: str, update_golden: bool) -> None:
    cut = split(lab, str(HERE / "multihost" / f"{inventory}.yml"))
    check_golden(HERE / "multihost" / f"{lab}.{inventory}.json", json.dumps(to_dict(cut), indent=2) + "\n",
                 update_golden)


@pytest.mark.parametrize(("lab", "inventory"), [("routed", "inventory-3"), ("lan", "inventory-3")])
def test_diagram_of_a_lab_over_hosts_matches_golden(lab: str, inventory: str, update_golden: bool) -> None:
    """`netlab graph LAB --hosts INV`: a cluster per host, the stitched links marked with their VNI."""
    import argparse

    from netlab.cli.views import _diagram
    from netlab.views import graph

    args = argparse.Namespace(lab=lab, path=False, path_from=None, probe=None,
                              hosts=str(HERE / "multihost" / f"{inventory}.yml"))
    check_golden(HERE / "multihost" / f"{lab}.{inventory}.dot", graph.dot(_diagram(args)[1]), update_golden)
