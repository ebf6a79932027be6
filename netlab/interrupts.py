"""SIGTERM handled like Ctrl-C, for commands that own processes outside their own (VMs, Vagrant).

Python's default for SIGTERM is to die at once, skipping every ``finally``: a ``netlab vm`` stopped by a CI
runner's timeout (SIGTERM) left its QEMU running in a session of its own, eating a core. Raising
KeyboardInterrupt instead runs the same cleanup as Ctrl-C: the VM's process group is killed, a Vagrant VM is
destroyed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["sigterm_as_interrupt"]


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; the caller's own handling applies
        return

    def handler(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
