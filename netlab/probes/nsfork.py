"""Run a function inside a lab's namespace, in a child forked from this (already imported) process.

Why fork and not a new interpreter: inside the full-kernel VM, ``import scapy.all`` alone takes ≈28 s
(bench/MEASUREMENTS.md §2). A forked child shares every module its parent imported, ``setns()``-es into the
node's network namespace (which changes only the child) and is ready in a few milliseconds.

The child talks to the parent over a pipe: length-prefixed pickles, ``("msg", x)`` while it runs (a
sniffer's "listening") and one ``("result", x)`` or ``("error", text)`` at the end. A second pipe lets
the parent tell it to stop (a sniffer stops when its sender is done). The child never returns into the
caller's stack: it leaves with ``os._exit``, and dies with its parent (``PR_SET_PDEATHSIG``), so a
killed ``netlab probe`` leaves no stray senders behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import pickle
import select
import signal
import struct
import subprocess
import time
from collections.abc import Callable

from netlab.core.frozen import frozen
from netlab.kernel.netns import enter_for_exec, netns_path, setns
from netlab.kernel.nodeinit import exec_argv
from netlab.kernel.tools import install_hint

PR_SET_PDEATHSIG = 1
_HEADER = struct.Struct("!Q")


class ChildFailed(Exception):
    """The child raised (its message says what and where) or died without an answer."""


class ChildTimeout(Exception):
    """The child did not answer in time; it has been killed."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


@frozen
class Channel:
    """The child's end: send messages up, learn when the parent wants it to stop."""

    out_fd: int
    stop_fd: int
    """Readable once the parent asks the child to stop (a byte, or end of file if the parent is gone)."""

    def send(self, obj: object) -> None:
        self._frame(("msg", obj))

    def _frame(self, obj: object) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(self.out_fd, _HEADER.pack(len(data)) + data)

    def stop_requested(self, timeout: float = 0.0) -> bool:
        ready, _, _ = select.select([self.stop_fd], [], [], timeout)
        return bool(ready)


class Reaper:
    """Children that have answered and are on their way out, reaped later instead of waited for.

    Why: a child that had a packet socket spends ~15 ms in its exit (the kernel's ``packet_release``
    waits for an RCU grace period), and nothing it does after sending its result matters to us. So
    the runner takes the result at once and collects such children with ``poll`` after each probe and
    ``release`` at the end of a run -- always by pid, never ``waitpid(-1)``, which would steal the exit
    status of processes that are not ours.
    """

    def __init__(self) -> None:
        self.pids: list[int] = []

    def add(self, pid: int) -> None:
        self.pids.append(pid)

    def poll(self) -> None:
        """Reap the children that have exited; keep the others."""
        self.pids = [pid for pid in self.pids if not _reaped(pid, block=False)]

    def release(self) -> None:
        """Reap the children still exiting without making the caller wait for them: a thread does.

        At the end of a suite those are the last probes' packet-socket children, whose exits (an RCU grace
        period each) took 20-40 ms of ``netlab probe routed`` -- time in which nothing is left to learn. The
        thread collects them by pid, blocking; if the process exits first (the CLI), they are
        orphans already exiting, which init reaps."""
        self.poll()
        if self.pids:
            import threading

            pids, self.pids = self.pids, []
            threading.Thread(target=_reap_all, args=(pids,), name="netlab-reaper", daemon=True).start()


def _reap_all(pids: list[int]) -> None:
    for pid in pids:
        _reaped(pid, block=True)


def _reaped(pid: int, block: bool) -> bool:
    try:
        done, _status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return True
    return bool(done)


class Child:
    """The parent's handle on a forked child."""

    def __init__(self, pid: int, from_child: int, to_child: int, label: str, reaper: Reaper | None = None) -> None:
        self.pid = pid
        self.label = label
        self.reaper = reaper
        self._in = from_child
        self._out: int | None = to_child
        self._buf = b""
        self._status: int | None = None

    def _read_frame(self, deadline: float) -> object:
        while True:
            if len(self._buf) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buf)
                if len(self._buf) >= _HEADER.size + size:
                    data = self._buf[_HEADER.size:_HEADER.size + size]
                    self._buf = self._buf[_HEADER.size + size:]
                    return pickle.loads(data)
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise ChildTimeout(f"{self.label} did not answer in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                self._reap(block=True)
                raise ChildFailed(f"{self.label} ended without an answer ({self._describe_status()})")
            self._buf += chunk

    def _frame(self, deadline: float) -> tuple[str, object]:
        frame = self._read_frame(deadline)
        if not (isinstance(frame, tuple) and len(frame) == 2 and isinstance(frame[0], str)):
            raise ChildFailed(f"{self.label} sent something that is not a message")
        return frame[0], frame[1]

    def receive(self, timeout: float) -> object:
        """The next message the child sent with ``Channel.send``."""
        kind, value = self._frame(time.monotonic() + timeout)
        if kind == "msg":
            return value
        if kind == "error":
            raise ChildFailed(str(value))
        raise ChildFailed(f"{self.label} finished before it said it was ready")

    def stop(self) -> None:
        """Ask the child to finish (it sees its stop pipe become readable)."""
        self.signal(b"s")

    def signal(self, command: bytes) -> None:
        """One byte down the stop pipe: a child that serves several requests (the path recorder) reads it as
        a command; for every other child any byte means stop."""
        if self._out is not None:
            try:
                os.write(self._out, command)
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise

    def result(self, timeout: float) -> object:
        """Wait for the child's return value (messages it still sends are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            kind, value = self._frame(deadline)
            if kind in ("result", "error"):
                self._finished()
                if kind == "error":
                    raise ChildFailed(str(value))
                return value

    def _finished(self) -> None:
        """The child has said its last word: hand it to the reaper (or wait for it, without one)."""
        if self.reaper is not None and self._status is None:
            self.reaper.add(self.pid)
            self._status = 0
        else:
            self._reap(block=True)

    def _reap(self, block: bool) -> None:
        if self._status is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self._status = 0
            return
        if pid:
            self._status = status

    def _describe_status(self) -> str:
        status = self._status or 0
        if os.WIFSIGNALED(status):
            return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit status {os.WEXITSTATUS(status)}"

    def kill(self) -> None:
        if self._status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap(block=True)

    def close(self) -> None:
        """Kill the child if it still runs, reap it, close the pipes. Safe to call twice."""
        self.kill()
        if self._out is not None:
            os.close(self._out)
            self._out = None
        if self._in >= 0:
            os.close(self._in)
            self._in = -1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def fork_into(netns: str, label: str, body: Callable[[Channel], object], reaper: Reaper | None = None) -> Child:
    """Fork a child that enters namespace ``netns`` (a name under /run/netns) and runs ``body``.

    Whatever ``body`` returns must pickle; an exception becomes :class:`ChildFailed` in the parent with
    the exception's text.
    """
    ns_fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    try:
        pid = os.fork()
    except BaseException:
        for fd in (ns_fd, up_r, up_w, down_r, down_w):
            os.close(fd)
        raise
    if pid == 0:  # the child: never returns
        code = 1
        channel = Channel(up_w, down_r)
        try:
            os.close(up_r)
            os.close(down_w)
            _die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            setns(ns_fd)
            os.close(ns_fd)
            value = body(channel)
            channel._frame(("result", value))
            code = 0
        except BaseException as exc:
            try:
                channel._frame(("error", f"{label}: {type(exc).__name__}: {exc}" if not str(exc).startswith(label)
                                else str(exc)))
            except BaseException:
                pass
        finally:
            os._exit(code)
    os.close(ns_fd)
    os.close(up_w)
    os.close(down_r)
    return Child(pid, up_r, down_w, label, reaper)


def call_in(netns: str, label: str, body: Callable[[Channel], object], timeout: float,
            reaper: Reaper | None = None) -> object:
    """``body`` run in ``netns``; its return value. Raises ChildTimeout / ChildFailed."""
    child = fork_into(netns, label, body, reaper)
    try:
        return child.result(timeout)
    finally:
        child.close()


@frozen
class Executed:
    """What a command run in a node did."""

    exit: int | None
    """Exit status; None if it ran out of time and was killed."""
    output: str
    """stdout and stderr, interleaved."""


def exec_in(netns: str, argv: list[str], timeout: float) -> Executed:
    """Run a program inside a node, as ``ip netns exec`` would (with /sys showing the node's interfaces)."""
    fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        full, preexec = exec_argv(fd, argv, enter_for_exec)
        # a session of its own: at the timeout its whole process group is killed, also the child nsenter
        # forks into a node's pid namespace (killing nsenter alone would leave it holding the output pipe)
        proc = subprocess.Popen(full, preexec_fn=preexec, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except FileNotFoundError:
        return Executed(127, f"{argv[0]}: command not found (install it: {install_hint(argv[0])})")
    finally:
        os.close(fd)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return Executed(proc.returncode, out.decode(errors="replace"))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return Executed(None, out.decode(errors="replace"))
