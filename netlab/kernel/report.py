"""A forked child's report through a pipe: ``word rest`` lines, read until the report is complete.

Why a pipe and words rather than a sleep or a pid file: a daemon netlab forks (a service, a node's init) is
ready only when it says so, and two processes may write -- the intermediate child of a double fork knows the
daemon's pid as netlab sees it, the daemon knows when it is ready -- in no fixed order.
"""

from __future__ import annotations

import os
import select
import time

FINAL = ("ready", "error")
"""Words that end a report; "error" carries the reason."""


def read_report(fd: int, timeout: float) -> dict[str, str]:
    """word → rest of every line written to ``fd`` until an ``error``, or ``ready`` together with ``pid``, has
    come; or end of file; or ``timeout`` seconds (then the caller sees what is missing)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        words = dict(line.partition(" ")[::2] for line in data.decode(errors="replace").splitlines() if line)
        if "error" in words or ("ready" in words and "pid" in words):
            return words
        left = deadline - time.monotonic()
        if left <= 0:
            return words
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return words
        chunk = os.read(fd, 4096)
        if not chunk:
            return words
        data += chunk
