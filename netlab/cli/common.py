"""What every verb shares: the console (tables for humans) and JSON output (for machines)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

__all__ = ["console", "print_json"]


def console(stderr: bool = False) -> Any:
    """A rich console; piped output (CI logs, the VM's console) gets 160 columns rather than rich's 80."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
