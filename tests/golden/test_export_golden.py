"""Golden tests of ``netlab export``: the whole script of three labs that between them use every part of it a
reader meets first (routed: namespaces, veths, sysctls, routes, services; dr-mode: a LAN bridge, derived settings
with their reasons, IPVS; vxlan-overlay: a tunnel and a bridge inside a node). Regenerate on purpose with
``UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff, as for the plans (tests/golden/test_golden.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.api import Lab
from netlab.views.export import render
from tests.golden.test_golden import check_golden

EXPORTS = Path(__file__).resolve().parent / "export"
LABS = ("routed", "dr-mode", "vxlan-overlay")


@pytest.mark.parametrize("name", LABS)
def test_the_exported_script_matches_golden(name: str, update_golden: bool) -> None:
    lab = Lab.load(name)
    check_golden(EXPORTS / f"{name}.sh", render(lab.plan(), lab.topology.description or ""), update_golden)


def test_every_export_golden_belongs_to_a_pinned_lab() -> None:
    assert sorted(p.stem for p in EXPORTS.glob("*.sh")) == sorted(LABS)
