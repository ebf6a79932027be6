"""Where netlab keeps what must outlive one command: the run directory, and what this boot of the host is.

Under ``/run`` on purpose: a reboot empties ``/run`` and with it every namespace mount, so state, caches
and kernel objects go away together. ``NETLAB_RUN_DIR`` moves it (tests give each run a private one).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["boot_id", "run_dir"]


def run_dir() -> Path:
    """The run directory: ``/run/netlab`` unless ``NETLAB_RUN_DIR`` says otherwise."""
    return Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))


def boot_id() -> str | None:
    """The kernel's id of this boot: what a per-boot cache (features, VM backends) is keyed by."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None
