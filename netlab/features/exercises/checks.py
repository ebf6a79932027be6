"""The exercise section's meaning checks: every probe, node and regular expression it names exists or parses."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netlab.core.diagnostics import Collector, PathKey
    from netlab.features.exercises.model import Exercise
    from netlab.model.topology import Topology


def _known(col: Collector, path: PathKey, what: str, name: str, known: list[str]) -> None:
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        col.add(path, f"unknown {what} {name!r}",
                f"did you mean {close[0]!r}?" if close else f"{what}s are: {', '.join(known) or 'none'}")


def check(topo: Topology, ex: Exercise, col: Collector) -> None:
    probes = [p.name for p in topo.probes if p is not None]
    nodes = list(topo.nodes)
    for key in ("checks", "keep"):
        for i, item in enumerate(getattr(ex, key)):
            _known(col, ("exercise", key, i, "probe"), "probe", item.probe, probes)
    graded = {c.probe for c in ex.checks}
    for i, item in enumerate(ex.keep):
        if item.probe in graded:
            col.add(("exercise", "keep", i, "probe"), f"probe {item.probe!r} is both graded and kept",
                    "`checks` must fail at the start and pass when solved; `keep` must pass throughout")
    for i, cmd in enumerate(ex.solution):
        _known(col, ("exercise", "solution", i, "node"), "node", cmd.node, nodes)
    names: dict[str, int] = {}
    for i, fix in enumerate(ex.wrong_fixes):
        if fix.name in names:
            col.add(("exercise", "wrong_fixes", i, "name"), f"wrong fix {fix.name!r} is named twice",
                    f"also at wrong_fixes[{names[fix.name]}]")
        names.setdefault(fix.name, i)
        for j, cmd in enumerate(fix.commands):
            _known(col, ("exercise", "wrong_fixes", i, "commands", j, "node"), "node", cmd.node, nodes)
        for j, obs in enumerate(fix.detect):
            _known(col, ("exercise", "wrong_fixes", i, "detect", j, "node"), "node", obs.node, nodes)
            try:
                re.compile(obs.match)
            except re.error as exc:
                col.add(("exercise", "wrong_fixes", i, "detect", j, "match"),
                        f"{obs.match!r} is not a regular expression: {exc}")
    steps = sorted({c.step for c in ex.checks} | {c.step for c in ex.solution})
    if steps != list(range(1, len(steps) + 1)):
        col.add(("exercise",), f"steps {steps} are not 1, 2, … without gaps",
                "number the checkpoints of `checks` and `solution` from 1")

