"""What every verb shares: the console (tables for humans), JSON output (for machines), and the lab name a
verb is given (checked: it becomes a state path)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from netlab.errors import InvalidInput

__all__ = ["console", "lab_name", "print_json"]


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
