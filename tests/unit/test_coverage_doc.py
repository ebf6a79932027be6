"""docs/coverage.md names, for each point of the notes, the labs and probes that prove it: every probe it names
must exist in one of the labs of its row, so the table cannot drift from the catalog."""

from __future__ import annotations

import fnmatch
import re

from netlab.stages.load import load_file
from tests.helpers import REPO

TICKED = re.compile(r"`([^`]+)`")


def test_every_probe_the_coverage_table_names_is_in_a_lab_of_its_row() -> None:
    rows = [line.split("|")[1:-1] for line in (REPO / "docs" / "coverage.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| point") and "---" not in line]
    assert len(rows) >= 25
    checked = 0
    for point, mark, labs, probes in rows:
        names = [n for n in TICKED.findall(labs) if (REPO / "topologies" / f"{n}.yml").exists()]
        if mark.strip() != "✔":
            continue
        assert names, f"no catalog lab in row {point!r}"
        have: set[str] = set()
        for name in names:
            data = load_file(REPO / "topologies" / f"{name}.yml").data
            have |= {p["name"] for p in data.get("probes", []) if isinstance(p, dict) and "name" in p}
        for probe in TICKED.findall(probes):
            if ":" in probe or " " in probe:
                continue  # a key: value quoted in the cell, not a probe name
            assert fnmatch.filter(have, probe), f"row {point.strip()!r}: no probe {probe!r} in {names}"
            checked += 1
    assert checked >= 80
