"""What the tests share: one pipeline driver, the base labs, and up/down for the root tests.

    from tests.helpers import build, problems, two_nodes

    topology, resolved, plan = build(two_nodes(b="{sysctls: {net.ipv4.ip_forward: 1}}"))
    assert problems(two_nodes("{node: a}", "{node: a}"))[0].path == "links[0].b.node"

Test modules keep only what is theirs (the labs of their feature, how they format a diagnostic to assert
on it); how a lab is loaded, validated, resolved, planned, written, brought up and taken down is here,
once, through the same public functions netlab itself uses (see each module's docstring for why).
"""

from tests.helpers.pipeline import (
    FILE,
    Built,
    Source,
    build,
    diagnostics,
    lab_from,
    planned,
    problems,
    resolved,
    text_of,
    valid,
    write_lab,
)
from tests.helpers.running import (
    CATALOG,
    REPO,
    assert_nothing_left,
    catalog_copy,
    down,
    netlab,
    netns_of,
    root_snapshot,
    run_copy,
    run_results,
    running,
    state_file,
    up,
)
from tests.helpers.topologies import (
    A_END,
    B_END,
    DOC,
    block,
    director_lab,
    doc_blocks,
    documented,
    documented_labs,
    lab_text,
    lan,
    routed,
    two_nodes,
    two_nodes_data,
)

__all__ = [
    "A_END",
    "B_END",
    "CATALOG",
    "DOC",
    "FILE",
    "REPO",
    "Built",
    "Source",
    "assert_nothing_left",
    "block",
    "build",
    "catalog_copy",
    "diagnostics",
    "director_lab",
    "doc_blocks",
    "documented",
    "documented_labs",
    "down",
    "lab_from",
    "lab_text",
    "lan",
    "netlab",
    "netns_of",
    "planned",
    "problems",
    "resolved",
    "root_snapshot",
    "routed",
    "run_copy",
    "run_results",
    "running",
    "state_file",
    "text_of",
    "two_nodes",
    "two_nodes_data",
    "up",
    "valid",
    "write_lab",
]
