"""``netlab probe`` and ``netlab run``: a lab's probes as a table (or JSON, or JUnit) and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from netlab.cli.common import console as _console
from netlab.cli.common import lab_name as _lab_name
from netlab.cli.common import print_json as _print_json

__all__ = ["cmd_probe", "cmd_run"]


def _probe_progress(enabled: bool) -> Callable[[Any], None] | None:
    """One line per finished probe on stderr, while the suite runs (only on a terminal)."""
    if not enabled:
        return None

    def progress(result: Any) -> None:
        mark = "PASS" if result.passed else "FAIL"
        sys.stderr.write(f"  {mark} {result.name} ({result.seconds:.2f} s)\n")

    return progress


def _report_probes(suite: Any, args: argparse.Namespace) -> int:
    """Table (or JSON), JUnit file, and the exit code: 0 every probe passed, 1 one failed."""
    from pathlib import Path

    if args.junit:
        suite.write_junit(Path(args.junit))
    if args.json:
        _print_json(suite.to_dict())
        return 0 if suite.passed else 1
    console = _console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # logs and CI: room for the verdicts, no truncation
    if not suite.results:
        console.print(f"lab {suite.lab} declares no probes (add a `probes:` list to its topology)")
        return 0
    from rich.table import Table

    table = Table(title=f"probes of lab {suite.lab}", title_justify="left", show_lines=True)
    table.add_column("probe", style="bold", no_wrap=True)
    table.add_column("kind")
    table.add_column("verdict", no_wrap=True)
    table.add_column("expected", overflow="fold", ratio=2)
    table.add_column("observed", overflow="fold", ratio=3)
    table.add_column("time", justify="right", no_wrap=True)
    for r in suite.results:
        verdict = "[green]PASS[/]" if r.passed else ("[red]ERROR[/]" if r.error else "[red]FAIL[/]")
        table.add_row(r.name, r.kind, verdict, r.expected, r.observed, f"{r.seconds:.2f} s")
    console.print(table)
    failed = suite.failed
    console.print(f"{len(suite.results) - len(failed)} of {len(suite.results)} probes passed in {suite.seconds:.2f} s"
                  + (f"; failed: {', '.join(r.name for r in failed)}" if failed else ""))
    pcaps = [p for r in suite.results for p in r.pcaps]
    if pcaps:
        where = sorted({str(Path(p).parent) for p in pcaps})
        console.print(f"pcaps ({len(pcaps)}) in {', '.join(where)}", markup=False)
    if args.junit:
        console.print(f"JUnit XML: {args.junit}", markup=False)
    return 0 if suite.passed else 1


def cmd_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from netlab.api import run_probes
    from netlab.multihost.orchestrate import recorded

    if recorded(_lab_name(args.lab)) is not None:  # spread over hosts from here: each probe where its node is
        from netlab.cli.multihost import probe_everywhere

        return probe_everywhere(args, _lab_name(args.lab))
    suite = run_probes(_lab_name(args.lab), args.only, Path(args.pcap) if args.pcap else None,
                       progress=_probe_progress(not args.json and sys.stderr.isatty()), record_path=not args.no_path)
    return _report_probes(suite, args)


def cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from netlab.api import Lab

    if getattr(args, "hosts", None):
        from netlab.cli.multihost import run_everywhere

        return run_everywhere(args)
    lab = Lab.load(args.lab)
    up = lab.up()
    if not args.json:
        sys.stderr.write(up.message + (f" in {up.seconds:.2f} s" if up.created else "") + "\n")
    try:
        suite = lab.probes(args.only, Path(args.pcap) if args.pcap else None,
                           progress=_probe_progress(not args.json and sys.stderr.isatty()),
                           record_path=not args.no_path)
    finally:
        if up.created and not args.keep:
            lab.down()
            if not args.json:
                sys.stderr.write(f"lab {lab.name} is down\n")
        elif not args.json:
            sys.stderr.write(f"lab {lab.name} left up" + ("" if up.created else " (it was up before)") + "\n")
    return _report_probes(suite, args)
