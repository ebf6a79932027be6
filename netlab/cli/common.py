"""What every verb shares: the console (tables for humans), JSON output (for machines), and the lab name a
verb is given (checked: it becomes a state path)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from netlab.errors import InvalidInput

__all__ = ["HelpFormatter", "RawHelpFormatter", "console", "lab_name", "print_json"]


def terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, else the terminal of stdout, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized without importing shutil.

    Why: argparse makes a formatter for every ``add_argument`` (to check the metavar), and each asks
    ``shutil.get_terminal_size`` -- importing shutil, which imports zlib, bz2 and lzma: 3 ms of every command
    (``netlab down`` is a tenth of a second in all)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class RawHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`HelpFormatter` that keeps the description's line breaks (a verb's list of forms)."""


def console(stderr: bool = False) -> Any:
    """A rich console; piped output (CI logs, the VM's console) gets 160 columns rather than rich's 80.

    No emoji codes: rich turns ``:ab:`` into an emoji, and a MAC address such as ``0a:c9:05:ab:91:27`` in
    ``status`` contains one."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width, emoji=False)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def lab_name(ref: str) -> str:
    """``down``/``status`` take a lab name; a path to its file works too (its ``name:`` is read).

    Checked either way: the name becomes a state path, and a file anyone can write could name anything.
    """
    from netlab import catalog
    from netlab.naming import checked_lab_name

    if catalog.looks_like_path(ref):
        path = catalog.find(ref)
        if path is not None and path.is_file():
            name = catalog.summary(path)["name"]
            if name is None:
                raise InvalidInput(message=f"{ref}: not a lab file (its top level is not a mapping with `name:`)")
            return checked_lab_name(name, where=f"{ref}: name")
    return checked_lab_name(ref)
