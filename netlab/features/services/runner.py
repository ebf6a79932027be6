"""Start a service inside a node: double fork, setsid, setns, log file, and a readiness handshake.

Why this shape:

* **Fork, not exec.** The service is this already-imported Python process, forked; inside the
  full-kernel VM a fresh interpreter would cost seconds of imports per service.
* **Double fork + setsid.** The service is re-parented away from ``netlab up`` and has no controlling
  terminal, so it outlives the command that started it and a Ctrl-C in that terminal does not reach
  it. ``down`` and ``clean`` stop it: it lives in the lab's namespace (they kill every process in it)
  and its pid and start time are in the lab's state.
* **Every inherited file descriptor is closed.** In particular the state lock that ``up`` holds:
  a service keeping it would block every later ``up``/``down`` on this machine.
* **Readiness is a handshake, not a sleep.** The service writes ``ready`` to a pipe only after its
  socket is bound (and listening, for TCP); ``up`` waits for that line, with a timeout, and otherwise
  reports the service's own error and its log file.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import time
import traceback
from pathlib import Path
from typing import NoReturn

from netlab import paths
from netlab.errors import ApplyError
from netlab.features.base import Executor
from netlab.features.services.model import ServiceSpec
from netlab.kernel.netns import setns
from netlab.model.plan import StartService
from netlab.stages.record import ProcessRecord, netns_inode, process_start_time

READY_TIMEOUT = 10.0
PR_SET_NAME = 15


def default_log_dir(lab: str) -> Path:
    """``/run/netlab/logs/<lab>``: next to the state, gone with it at reboot, kept after ``down`` for reading."""
    return paths.run_dir() / "logs" / lab


def log_path(log_dir: Path, spec: ServiceSpec) -> Path:
    return log_dir / f"{spec.node}.{spec.name}.log"


def _daemon(ns_fd: int, spec: ServiceSpec, log: Path, ready_fd: int) -> NoReturn:
    """The service process: enter the node, redirect output, close what we inherited, serve."""
    code = 1
    try:
        setns(ns_fd)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        keep = ready_fd
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 16)
        os.chdir("/")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        try:
            ctypes.CDLL(None).prctl(PR_SET_NAME, f"netlab-{spec.kind}".encode()[:15], 0, 0, 0)
        except (OSError, AttributeError):
            pass
        from netlab.features.services.server import Server, listen
        from netlab.features.services.server import log as write_log

        try:
            sock = listen(spec)
        except OSError as exc:
            message = f"cannot listen on {spec.protocol} {spec.address}:{spec.port}: {exc.strerror or exc}"
            write_log(f"{spec.kind} {spec.name}: {message}")
            os.write(ready_fd, f"error {message}\n".encode())
            os._exit(1)
        write_log(f"{spec.kind} {spec.name} of node {spec.node} listening on {spec.protocol} "
                  f"{spec.address}:{spec.port} (pid {os.getpid()})")
        os.write(ready_fd, f"ready {os.getpid()}\n".encode())
        os.close(ready_fd)
        Server(spec, sock).serve_forever()
    except BaseException:
        try:
            os.write(2, traceback.format_exc().encode())
            os.write(ready_fd, b"error the service crashed; see its log\n")
        except OSError:
            pass
    finally:
        os._exit(code)


def start_service(ns_fd: int, service: StartService | ServiceSpec, log_dir: Path,
                  timeout: float = READY_TIMEOUT) -> ProcessRecord:
    """Start a service in the namespace ``ns_fd``; return once it listens. Raises ApplyError otherwise."""
    spec = ServiceSpec(service.node, service.name, service.kind, service.protocol, service.address, service.port,
                       service.body)
    paths.make_dir(log_dir.parent)
    paths.make_dir(log_dir)  # checked: root writes here, so nobody else may have planted anything
    log = log_path(log_dir, spec)
    os.close(paths.open_file(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))  # a fresh log per up
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the intermediate child: never returns
        try:
            os.close(r)
            os.setsid()
            if os.fork() == 0:
                _daemon(ns_fd, spec, log, w)
        finally:
            os._exit(0)
    os.close(w)
    try:
        os.waitpid(pid, 0)
        line = _read_line(r, timeout)
    finally:
        os.close(r)
    what = f"start {spec.describe()}"
    if line is None:
        raise ApplyError(f"step `{what}` did not report listening within {timeout:g} s\n    log: {log}")
    word, _, rest = line.partition(" ")
    if word != "ready":
        raise ApplyError(f"step `{what}` failed: {rest or line}\n    log: {log}")
    service_pid = int(rest)
    return ProcessRecord(pid=service_pid, start_time=process_start_time(service_pid) or 0, node=spec.node,
                         what=f"service {spec.name}: {spec.kind} on {spec.protocol} {spec.address}:{spec.port}",
                         netns_inode=netns_inode(service_pid))


def _read_line(fd: int, timeout: float) -> str | None:
    """One line from ``fd``, or None at end of file or timeout."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode(errors="replace").strip() or None
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace")


def apply(executor: Executor, actions: list[StartService]) -> None:
    """Apply's executor: start each service in its node and wait until it listens; the process is recorded."""
    log_dir = executor.log_dir or default_log_dir(executor.lab)
    for action in actions:
        executor.started(start_service(executor.fd(action.netns), action, log_dir))
