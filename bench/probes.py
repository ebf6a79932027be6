#!/usr/bin/env python3
"""Benchmark: wall time of the full probe suite of the catalog lab ``routed``, after imports.

    sudo python bench/probes.py [--repeat 10] [--json FILE]

What is measured: ``ProbeRunner.run()`` of every probe declared in topologies/routed.yml, against a
copy of the lab brought up under the name ``bench-routed`` (so a ``routed`` someone else has up is
not touched). Imports (pyroute2, scapy) and the runner's preparation happen before the clock starts
(``prepare()`` imports scapy once, as every real run does before its first fork); one warm-up run is
not counted. Each repetition forks every probe's children afresh, exactly as ``netlab probe`` does.

Reported: median, min and max of the suite's wall time, and each probe's median. The lab is taken
down at the end, also on Ctrl-C. Not a test: it prints a table (and writes JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of the suite (default 10)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    t0 = time.monotonic()
    from netlab.api import Lab, state_of
    from netlab.probes.context import LabView
    from netlab.probes.runner import ProbeRunner

    text = (REPO / "topologies" / "routed.yml").read_text().replace("name: routed", "name: bench-routed", 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-routed.yml"
        path.write_text(text)
        lab = Lab.load(path)
        lab.up(recreate=True)
        try:
            runner = ProbeRunner(LabView.from_resolved(state_of(lab.name).resolved))
            probes = runner.select()
            runner.prepare(probes)
            imports = time.monotonic() - t0
            warm = runner.run()
            if not warm.passed:
                print("warm-up run failed:", *[str(r) for r in warm.failed], sep="\n  ")
                return 1
            walls: list[float] = []
            per_probe: dict[str, list[float]] = {p.name: [] for p in probes}
            failures = 0
            for _ in range(args.repeat):
                start = time.monotonic()
                suite = runner.run()
                walls.append(time.monotonic() - start)
                failures += len(suite.failed)
                for r in suite.results:
                    per_probe[r.name].append(r.seconds)
        finally:
            lab.down()
    figures = {
        "lab": "routed", "probes": len(probes), "repeat": args.repeat, "failed_probe_runs": failures,
        "imports_and_up_s": round(imports, 3),
        "suite_wall_s": {"median": round(statistics.median(walls), 4), "min": round(min(walls), 4),
                         "max": round(max(walls), 4)},
        "per_probe_median_s": {k: round(statistics.median(v), 4) for k, v in per_probe.items()},
        "machine": {"python": platform.python_version(), "kernel": platform.release(),
                    "cpus": __import__("os").cpu_count()},
    }
    print(f"routed: {len(probes)} probes, {args.repeat} runs after imports "
          f"(imports + up before the clock: {imports:.2f} s)")
    print(f"suite wall time: median {figures['suite_wall_s']['median']:.3f} s, "  # type: ignore[index]
          f"min {min(walls):.3f} s, max {max(walls):.3f} s; failed probe runs: {failures}")
    for name, seconds in figures["per_probe_median_s"].items():  # type: ignore[union-attr]
        print(f"  {name:<22} {seconds * 1000:8.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
