"""The probe runner's reaper: children that answered are collected by pid, at the end without waiting."""

from __future__ import annotations

import os
import time

from netlab.probes.nsfork import Reaper


def _child(seconds: float) -> int:
    pid = os.fork()
    if pid == 0:
        time.sleep(seconds)
        os._exit(0)
    return pid


def _gone(pid: int) -> bool:
    """Reaped by someone else: not even a zombie (reading /proc, so that this test never reaps it itself)."""
    return not os.path.exists(f"/proc/{pid}")


def test_release_returns_at_once_and_the_children_are_reaped_in_the_background() -> None:
    reaper = Reaper()
    quick, slow = _child(0.0), _child(0.3)
    time.sleep(0.1)
    reaper.add(quick)
    reaper.add(slow)
    start = time.monotonic()
    reaper.release()
    assert time.monotonic() - start < 0.1  # did not wait for the slow child
    assert reaper.pids == []
    assert _gone(quick)  # exited already: reaped by release's poll, in the caller
    deadline = time.monotonic() + 5
    while not _gone(slow) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(slow)


def test_poll_keeps_what_still_runs_and_never_touches_other_children() -> None:
    reaper = Reaper()
    running, other = _child(0.3), _child(0.0)
    reaper.add(running)
    reaper.poll()
    assert reaper.pids == [running]
    time.sleep(0.1)
    assert os.waitpid(other, 0)[0] == other  # not ours to the reaper: its status is still there for its owner
    reaper.release()
    deadline = time.monotonic() + 5
    while not _gone(running) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(running)
