"""SIGTERM handled like Ctrl-C, and the process groups such commands own killed, for commands that run
processes outside their own (VMs, Vagrant).

Python's default for SIGTERM is to die at once, skipping every ``finally``: a ``netlab vm`` stopped by a CI
runner's timeout (SIGTERM) left its QEMU running in a session of its own, eating a core. Raising
KeyboardInterrupt instead runs the same cleanup as Ctrl-C: the VM's process group is killed, a Vagrant VM is
destroyed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["kill_group", "sigterm_as_interrupt"]


def kill_group(proc: subprocess.Popen[bytes], grace: float = 0.0) -> None:
    """Stop ``proc`` and everything in its process group (it was started with ``start_new_session``): UML is
    many host processes, ``vagrant up`` is Ruby plus ssh, rsync and ansible. With ``grace``, SIGTERM first and
    SIGKILL after that many seconds; without, SIGKILL at once."""
    signals = (signal.SIGTERM, signal.SIGKILL) if grace > 0 else (signal.SIGKILL,)
    for sig in signals:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace if sig == signal.SIGTERM else None)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


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
