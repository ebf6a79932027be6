"""``netlab vm``: run a lab or any command inside a full-kernel VM, and ``netlab vm check``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from netlab.cli.common import console, print_json
from netlab.errors import InvalidInput

__all__ = ["cmd_vm", "print_backends"]


def _vm_argv(argv: list[str]) -> list[str]:
    """Run netlab and pytest inside the guest with this very interpreter (the guest sees our files), so
    it works whether or not the venv's bin/ is on PATH."""
    if argv and argv[0] in ("netlab", "pytest"):
        return [sys.executable, "-m", argv[0], *argv[1:]]
    if argv and argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return argv


def cmd_vm(args: argparse.Namespace) -> int:
    from pathlib import Path

    from netlab.vm import VmBackend, run_in_vm

    rest = list(args.argv)
    interactive = False
    if not rest:
        raise InvalidInput(message="netlab vm needs a command\n    hint: netlab vm run LAB | netlab vm shell | "
                                   "netlab vm check | netlab vm -- COMMAND...")
    if rest[0] == "--":
        argv = _vm_argv(rest[1:])
    elif rest[0] == "check":
        return _vm_check(args, fresh="--fresh" in rest[1:])
    elif rest[0] == "run":
        if len(rest) < 2:
            raise InvalidInput(message="netlab vm run needs a lab\n    hint: netlab vm run dr-mode")
        argv = _vm_argv(["netlab", "run", *rest[1:]])
    elif rest[0] == "shell":
        argv, interactive = ["/bin/bash", "-i"], True
    else:
        argv = _vm_argv(rest)
    if not argv:
        raise InvalidInput(message="nothing to run inside the VM")
    if not args.quiet:
        sys.stderr.write(f"netlab vm: booting a full kernel ({args.backend}) for: {' '.join(rest)}\n")
    # netlab's own settings (NETLAB_REQUIRE_KERNEL, NETLAB_RUN_DIR, ...) follow the command into the guest
    env = {k: v for k, v in os.environ.items() if k.startswith("NETLAB_")}
    from netlab.interrupts import sigterm_as_interrupt

    with sigterm_as_interrupt():  # a CI runner's SIGTERM must not leave the QEMU of a session of its own running
        return run_in_vm(argv, cwd=Path.cwd(), interactive=interactive, memory=args.memory, cpus=args.cpus, env=env,
                         backend=VmBackend(args.backend), timeout=args.timeout)


def _vm_check(args: argparse.Namespace, fresh: bool) -> int:
    """``netlab vm check``: boot every installed backend (or reuse this host boot's records) and say which work."""
    from netlab.vm import check_backends

    def progress(line: str) -> None:
        if not args.json:
            sys.stderr.write(f"netlab vm: {line}\n")

    reports = check_backends(boot=True, fresh=fresh, progress=progress)
    if args.json:
        print_json([r.__dict__ for r in reports])
    else:
        print_backends(reports)
    return 0 if any(r.boots for r in reports) else 4


def print_backends(reports: Sequence[Any]) -> None:
    from rich.table import Table

    table = Table(title="full-kernel VM backends (tried in this order by `netlab vm`)", title_justify="left")
    for col in ("backend", "installed", "boots here", "boot time", "detail"):
        table.add_column(col, overflow="fold")
    for r in reports:
        boots = "[green]yes[/]" if r.boots else ("[red]no[/]" if r.boots is False else "-")
        table.add_row(f"{r.backend} ({r.title})", "yes" if r.installed else "[red]no[/]", boots,
                      f"{r.seconds:.1f} s" if r.seconds is not None else "", r.detail)
    console().print(table)
