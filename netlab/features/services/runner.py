"""Start a service inside a node: double fork, setsid, setns, log file, and a readiness handshake.

Why this shape:

* **Fork, not exec.** The service is this already-imported Python process, forked; inside the
  full-kernel VM a fresh interpreter would cost seconds of imports per service.
* **Double fork + setsid.** The service is re-parented away from ``netlab up`` and has no controlling
  terminal, so it outlives the command that started it and a Ctrl-C in that terminal does not reach
  it. ``down`` and ``clean`` stop it: it lives in the lab's namespace (they kill every process in it)
  and its pid and start time are in the lab's state. The intermediate child is also where a node with an
  init (netlab.kernel.nodeinit) is entered: joining its pid namespace takes effect at the next fork, so the
  service is born inside it -- one fork deeper, so that it is orphaned to the node's init, which reaps it, and
  not to the host's -- and its pid as netlab sees it is found from the one it has inside.
* **Every inherited file descriptor is closed.** In particular the state lock that ``up`` holds:
  a service keeping it would block every later ``up``/``down`` on this machine.
* **Readiness is a handshake, not a sleep.** The service writes ``ready`` to a pipe only after its
  socket is bound (and listening, for TCP); ``up`` waits for that line, with a timeout, and otherwise
  reports the service's own error and its log file.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from netlab import paths
from netlab.errors import ApplyError
from netlab.features.services.spec import ServiceSpec
from netlab.kernel.nodeinit import enter_node, outer_pid
from netlab.kernel.report import read_report
from netlab.model.plan import StartService
from netlab.stages.record import ProcessRecord, netns_inode, process_start_time

if TYPE_CHECKING:  # an annotation: down, clean and up of a cached plan need no feature table
    from netlab.features.base import Executor

READY_TIMEOUT = 10.0


def default_log_dir(lab: str) -> Path:
    """``/run/netlab/logs/<lab>``: next to the state, gone with it at reboot, kept after ``down`` for reading."""
    return paths.run_dir() / "logs" / lab


def log_path(log_dir: Path, spec: ServiceSpec) -> Path:
    return log_dir / f"{spec.node}.{spec.name}.log"


def _daemon(spec: ServiceSpec, out: int, ready_fd: int) -> NoReturn:
    """The service process, already in the node: redirect output, close what we inherited, serve."""
    code = 1
    try:
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
        from netlab.features.services.server import Server, listen, set_name

        set_name(spec)
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
            import traceback  # here: with textwrap, ≈ 3 ms of every `up` that starts a service

            os.write(2, traceback.format_exc().encode())
            os.write(ready_fd, b"error the service crashed; see its log\n")
        except OSError:
            pass
    finally:
        os._exit(code)


class _Starting(NamedTuple):
    """A service forked and not yet heard from: what :func:`_finish` needs to wait for its handshake."""

    spec: ServiceSpec
    log: Path
    pid: int
    """The intermediate child, reaped by _finish."""
    pipe: int
    """The read end of the handshake pipe."""
    ns_fd: int


def start_service(ns_fd: int, service: StartService | ServiceSpec, log_dir: Path,
                  timeout: float = READY_TIMEOUT, may_have_init: bool = True) -> ProcessRecord:
    """Start a service in the namespace ``ns_fd``; return once it listens. Raises ApplyError otherwise."""
    return _finish(_spawn(ns_fd, service, log_dir, may_have_init), timeout)


def _spawn(ns_fd: int, service: StartService | ServiceSpec, log_dir: Path, may_have_init: bool) -> _Starting:
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
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            if enter_node(ns_fd, may_have_init):  # a node with an init: its pid namespace holds what we fork next
                inner = os.fork()
                if inner == 0:  # inside: the service it forks is orphaned to the node's init, which reaps it
                    if os.fork() == 0:
                        _daemon(spec, out, w)
                    os._exit(0)
                os.waitpid(inner, 0)
                os.write(w, b"pid inside\n")  # its pid as we see it: found from the one it reports
            else:
                child = os.fork()
                if child == 0:
                    _daemon(spec, out, w)
                os.write(w, f"pid {child}\n".encode())
        except BaseException as exc:  # reported through the pipe, the only way out
            os.write(w, f"error cannot enter node {spec.node}: {exc}\n".encode())
        finally:
            os._exit(0)
    os.close(w)
    return _Starting(spec, log, pid, r, ns_fd)


def _finish(starting: _Starting, timeout: float) -> ProcessRecord:
    spec, log = starting.spec, starting.log
    try:
        os.waitpid(starting.pid, 0)
        words = read_report(starting.pipe, timeout)
    finally:
        os.close(starting.pipe)
    what = f"start {spec.describe()}"
    if "error" in words:
        raise ApplyError(f"step `{what}` failed: {words['error']}\n    log: {log}")
    if "ready" not in words or not words["ready"].isdigit() or "pid" not in words:
        raise ApplyError(f"step `{what}` did not report listening within {timeout:g} s\n    log: {log}")
    service_pid = int(words["pid"]) if words["pid"].isdigit() else outer_pid(starting.ns_fd, int(words["ready"]))
    if service_pid is None:
        raise ApplyError(f"step `{what}`: the service (pid {words['ready']} in {spec.node}) is gone\n    log: {log}")
    return ProcessRecord(pid=service_pid, start_time=process_start_time(service_pid) or 0, node=spec.node,
                         what=f"service {spec.name}: {spec.kind} on {spec.protocol} {spec.address}:{spec.port}",
                         netns_inode=netns_inode(service_pid))


def apply(executor: Executor, actions: list[StartService]) -> None:
    """Apply's executor: start every service, then wait until each listens; each process is recorded.

    All are forked before any is waited for: each start is two forks and a bind, and one after the other they
    were a fifth of ``netlab up routed`` (three services). A service that fails does not stop the others'
    handshakes: each one that listens is recorded (so a rollback stops it by its record too), then the first
    failure is raised."""
    from netlab.features.services import server  # noqa: F401 -- imported once here, not by every forked service

    log_dir = executor.log_dir or default_log_dir(executor.lab)
    started: list[_Starting] = []
    failures: list[ApplyError] = []
    try:
        for action in actions:
            started.append(_spawn(executor.fd(action.netns), action, log_dir, executor.has_init(action.netns)))
    finally:  # also when a spawn failed: those already forked are heard from (and their pipes closed)
        for starting in started:
            try:
                executor.started(_finish(starting, READY_TIMEOUT))
            except ApplyError as exc:
                failures.append(exc)
    if failures:
        raise failures[0]
