"""Golden diagrams: the DOT text ``netlab graph --format dot`` writes for a few catalog labs, and every catalog
lab rendered by Graphviz for real.

Why DOT and not SVG as the golden: the DOT is what netlab writes (Graphviz's layout and version are not
netlab's); a changed file shows which node, interface, role or edge changed. Regenerate with the plan goldens'
convention (``UPDATE_GOLDEN=1 pytest tests/golden``) and review the diff.
"""

from __future__ import annotations

import html

import pytest

from netlab import catalog
from netlab.api import Lab
from netlab.kernel.tools import which
from netlab.views import diagram, graph
from tests.golden.test_golden import HERE, check_golden

GRAPHS = HERE / "graphs"
GOLDEN_LABS = ("dr-mode", "ipvs-nat", "gre-tunnel", "vxlan-overlay", "routed")


@pytest.mark.parametrize("lab", GOLDEN_LABS)
def test_dot_of_catalog_lab_matches_golden(lab: str, update_golden: bool) -> None:
    check_golden(GRAPHS / f"{lab}.dot", graph.dot(diagram.build(Lab.load(lab).resolved)), update_golden)


def test_every_graph_golden_belongs_to_a_chosen_lab() -> None:
    assert sorted(p.stem for p in GRAPHS.glob("*.dot")) == sorted(GOLDEN_LABS)


@pytest.mark.skipif(which("dot") is None, reason="Graphviz is not installed (apt-get install -y graphviz; "
                                                  "scripts/install-deps installs it)")
@pytest.mark.parametrize("lab", catalog.names())
def test_every_catalog_lab_renders_to_svg_with_dot(lab: str) -> None:
    svg = graph.render(graph.dot(diagram.build(Lab.load(lab).resolved)), "svg").decode()
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    node = Lab.load(lab).resolved.nodes[0].name
    assert f">{node}</text>" in html.unescape(svg)  # dot writes a node's '-' as &#45;
