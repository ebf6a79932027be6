"""Start a planned VM, watch its boot, relay the command's output, and bring back its exit code.

The boot watchdog: until the guest script's marker line arrives (netlab.vm.guest), everything the VM prints
is its kernel's boot log. It is kept -- its last lines are what a failed boot is reported with -- and not
relayed. A guest that reaches no marker within the backend's ``boot_deadline``, or prints nothing for
``silence`` seconds while booting, is killed (its whole process group: UML is many host processes) and
reported as hung; one whose process ends before the marker did not boot (a panic, most often). Both raise
:class:`netlab.errors.VmBootError`, which tells the caller that the command never started and that another
backend may be tried. After the marker only the caller's ``timeout`` applies: a test may legitimately be
silent for minutes.

Output: stdout and stderr stay separate and reach the caller's ``sys.stdout``/``sys.stderr`` (so pytest's
capture and redirections work). They are read from pipes, never handed to QEMU as files: QEMU's file
chardev reopens ``/proc/self/fd/1`` with ``O_TRUNC``, which truncates a redirected log and, with ``2>&1``,
makes the two streams overwrite each other.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from netlab.core.frozen import frozen
from netlab.errors import VmBootError, VmError
from netlab.interrupts import kill_group
from netlab.vm.backends import Backend
from netlab.vm.guest import EXCHANGE_RC, end_marker, marker
from netlab.vm.plan import VmPlan

__all__ = ["Launched", "launch", "launch_interactive"]

TAIL_LINES = 12
"""Lines of the guest's output quoted when it fails: enough for a panic message and its cause."""
_BOOT_LOG_CAP = 1 << 20


@frozen
class Launched:
    rc: int
    boot_seconds: float
    """From start to the guest script's marker: what ``doctor`` and the backend cache report."""


def _sink(stream: IO[str]) -> Callable[[bytes], None]:
    """Write raw bytes to a text stream, through its binary buffer when it has one (pytest's capture has)."""
    buffer = getattr(stream, "buffer", None)

    def write(data: bytes) -> None:
        if buffer is not None:
            stream.flush()
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode(errors="replace"))
            stream.flush()

    return write


_NOISE = re.compile(r"\s*(\[<[0-9a-f]+>\].*|([0-9a-f]{8,16}\s*)+|Call Trace:|Stack:|CPU: \d+ PID: .*)")
_CAUSE = re.compile(r"panic|failed|error|oops|bug:|unable|cannot|not syncing", re.IGNORECASE)


def digest(lines: list[str], limit: int = TAIL_LINES) -> tuple[str, ...]:
    """The lines of a dead guest's log that say why: stack dumps dropped, and where a panic or an error is
    named, that line and the ones just before it (the cause is printed first, the panic after)."""
    kept = [line for line in lines if not _NOISE.fullmatch(line)]
    hits = [i for i, line in enumerate(kept) if _CAUSE.search(line)]
    if hits:
        first = hits[0]
        return tuple(kept[max(0, first - 2):hits[-1] + 1][-limit:])
    return tuple(kept[-limit:])


def _lines(data: bytes) -> list[str]:
    text = data.decode(errors="replace").replace("\r", "")
    return [line for line in text.split("\n") if line.strip()]


@dataclass
class _Stream:
    """One of the VM's output pipes: held back until its start marker, relayed until its end marker."""

    write: Callable[[bytes], None]
    held: bytearray = field(default_factory=bytearray)
    started: bool = False
    ended: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    """The last lines relayed, then whatever came after the end marker (a panic at power-off)."""


def _partial_suffix(data: bytes | bytearray, marker: bytes) -> int:
    """Length of the longest end of ``data`` that begins ``marker`` (held back: the marker may be arriving)."""
    for n in range(min(len(marker) - 1, len(data)), 0, -1):
        if data.endswith(marker[:n]):
            return n
    return 0


class _Watch:
    """The pump's state: both streams, the boot log, and the clocks the watchdog reads."""

    def __init__(self, plan: VmPlan, backend: Backend) -> None:
        self.marker = marker(plan.nonce)
        self.end_marker = end_marker(plan.nonce)
        self.backend = backend
        self.start = time.monotonic()
        self.last_output = self.start
        self.booted_at: float | None = None
        self.boot_log: deque[str] = deque(maxlen=400)

    def feed(self, stream: _Stream, data: bytes) -> None:
        self.last_output = time.monotonic()
        if stream.ended:
            stream.tail.extend(_lines(data))
            return
        stream.held += data
        if stream.started:
            self._relay(stream)
            return
        at = stream.held.find(self.marker)
        end = stream.held.find(b"\n", at) if at >= 0 else -1
        if end < 0:  # no (complete) marker yet: all of it is boot log so far
            if len(stream.held) > _BOOT_LOG_CAP:
                self.boot_log.extend(_lines(bytes(stream.held[:-len(self.marker)])))
                del stream.held[:-len(self.marker)]
            return
        self.boot_log.extend(_lines(bytes(stream.held[:at])))
        del stream.held[:end + 1]
        stream.started = True
        if self.booted_at is None:
            self.booted_at = time.monotonic()
        self._relay(stream)

    def _relay(self, stream: _Stream) -> None:
        """Pass the command's output on, up to the end marker; what follows it is the guest powering off."""
        at = stream.held.find(self.end_marker)
        if at >= 0:
            out, after = bytes(stream.held[:at]), bytes(stream.held[at + len(self.end_marker):])
            stream.held.clear()
            stream.ended = True
        else:
            keep = _partial_suffix(stream.held, self.end_marker)
            out, after = bytes(stream.held[:len(stream.held) - keep]), b""
            del stream.held[:len(stream.held) - keep]
        if out:
            stream.write(out)
            stream.tail.extend(_lines(out))
        if after.strip():
            stream.tail.extend(_lines(after))

    def flush(self, streams: list[_Stream]) -> None:
        """At the end: what a stream still holds is boot log (never started) or output (never ended)."""
        for s in streams:
            if s.held and not s.started:
                self.boot_log.extend(_lines(bytes(s.held)))
            elif s.held and not s.ended:
                s.write(bytes(s.held))
                s.tail.extend(_lines(bytes(s.held)))
            s.held.clear()

    def boot_timeout(self, now: float) -> tuple[float, str] | None:
        """(seconds until the watchdog fires, why it would), or None once booted."""
        if self.booted_at is not None:
            return None
        b = self.backend
        by_deadline = self.start + b.boot_deadline - now
        by_silence = self.last_output + b.silence - now
        if by_silence < by_deadline:
            return by_silence, f"it printed nothing for {b.silence:.0f} s while booting (hung; killed by the watchdog)"
        return by_deadline, f"it had not booted after {b.boot_deadline:.0f} s (killed by the watchdog)"


def _pump(proc: subprocess.Popen[bytes], watch: _Watch, streams: dict[int, _Stream],
          deadline: float | None, timeout: float | None) -> None:
    """Copy the VM's output until both pipes close, under the boot watchdog and the command's deadline."""
    selector = selectors.DefaultSelector()
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    try:
        while selector.get_map():
            now = time.monotonic()
            limits: list[tuple[float, str, bool]] = []
            boot = watch.boot_timeout(now)
            if boot is not None:
                limits.append((boot[0], boot[1], True))
            if deadline is not None:
                limits.append((deadline - now, "", False))
            wait = min(limits)[0] if limits else None
            if wait is not None and wait <= 0:
                _, why, booting = min(limits)
                kill_group(proc)
                watch.flush(list(streams.values()))
                if booting:
                    raise VmBootError(watch.backend.name, why, tuple(watch.boot_log)[-3:])
                raise VmError(f"the {watch.backend.name} VM did not finish within {timeout or 0:.0f} s (timeout)")
            for key, _ in selector.select(wait):
                data = os.read(key.fd, 65536)
                if data:
                    watch.feed(streams[key.fd], data)
                else:
                    selector.unregister(key.fileobj)
    finally:
        selector.close()


def _discard(_: bytes) -> None:
    pass


def launch(plan: VmPlan, backend: Backend, *, timeout: float | None = None, quiet: bool = False) -> Launched:
    """Run ``plan`` non-interactively; raise VmBootError if the guest never booted, VmError if it died.

    ``quiet``: the command's output is dropped (a boot check), its last lines still kept for errors.
    """
    run_env = {**os.environ, **dict(plan.host_env)}
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        proc = subprocess.Popen(list(plan.argv), env=run_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise VmError(f"cannot start the {backend.name} VM: {exc}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    out, err = (_discard, _discard) if quiet else (_sink(sys.stdout), _sink(sys.stderr))
    streams = {proc.stdout.fileno(): _Stream(out), proc.stderr.fileno(): _Stream(err)}
    watch = _Watch(plan, backend)
    try:
        _pump(proc, watch, streams, deadline, timeout)
    except BaseException:
        kill_group(proc)
        raise
    status = proc.wait()
    watch.flush(list(streams.values()))
    if watch.booted_at is None:
        raise VmBootError(backend.name, f"the guest stopped (status {status}) before netlab's guest script ran",
                          digest(list(watch.boot_log)))
    rc = _read_rc(plan)
    if rc is None:
        tail = digest([line for s in streams.values() for line in s.tail])
        quoted = "".join(f"\n      {line}" for line in tail)
        raise VmError(f"the {backend.name} VM died (status {status}) before the command finished: the guest kernel "
                      "panicked, ran out of memory, or was killed" + (f"\n    its last lines:{quoted}" if tail else "")
                      + "\n    hint: `netlab vm --backend tcg ...` runs it under QEMU emulation, which boots "
                      "everywhere; `netlab doctor` shows which backends boot here")
    return Launched(rc, watch.booted_at - watch.start)


def launch_interactive(plan: VmPlan, timeout: float | None) -> int:
    """The terminal is the guest's console: hand it over untouched (it needs a tty, not pipes)."""
    run_env = {**os.environ, **dict(plan.host_env)}
    try:
        proc = subprocess.Popen(list(plan.argv), env=run_env)
    except OSError as exc:
        raise VmError(f"cannot start the VM: {exc}") from exc
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise VmError(f"the VM did not finish within {timeout:.0f} s") from None
    rc = _read_rc(plan)
    if rc is None:
        raise VmError(f"the {plan.backend.value} VM stopped (status {proc.returncode}) before the shell reported "
                      "an exit status")
    return rc


def _read_rc(plan: VmPlan) -> int | None:
    try:
        text = (plan.exchange / EXCHANGE_RC).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
