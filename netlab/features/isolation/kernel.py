"""Start a node's init: unshare the node's namespaces, fork pid 1, give it the node's hostname, /proc and /sys.

The same double fork as a service (netlab.features.services.runner): the intermediate child enters the node's
network namespace and unshares the others -- a new pid namespace takes effect at the next fork -- so the child it
forks is pid 1 there. That init makes the mounts of its mount namespace private before it mounts anything (its
/proc must not propagate back to the host's), mounts a /proc of its pid namespace and a /sys of its network
namespace, sets the hostname, reports, and then does what pid 1 must: reap the orphans re-parented to it. It
exits on SIGTERM (pid 1 ignores signals it has no handler for), and the kernel then kills its namespace's
processes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
from typing import TYPE_CHECKING, NoReturn

from netlab.errors import ApplyError
from netlab.kernel.netns import MNT_DETACH, MS_REC, mount, setns, umount, unshare
from netlab.kernel.nodeinit import INIT_NAME, NAMESPACES, own_namespaces
from netlab.kernel.report import read_report
from netlab.model.plan import StartInit
from netlab.stages.record import ProcessRecord, netns_inode, process_start_time

if TYPE_CHECKING:  # an annotation: down, clean and up of a cached plan need no feature table
    from netlab.features.base import Executor

READY_TIMEOUT = 10.0
PR_SET_NAME = 15
MS_PRIVATE = 1 << 18
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8


def _init(action: StartInit, report: int) -> NoReturn:
    """pid 1 of the node: its mounts and hostname, then reap children until SIGTERM."""
    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, INIT_NAME.encode(), 0, 0, 0)
        if "uts" in action.namespaces:
            socket.sethostname(action.node)
        if "mnt" in action.namespaces:
            mount("none", "/", "none", MS_REC | MS_PRIVATE)  # first: nothing below may reach the host
            if "pid" in action.namespaces:
                mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            try:
                umount("/sys", MNT_DETACH)
                mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # the node's interfaces
            except OSError:
                pass  # no /sys to swap (a minimal container): /sys/class/net keeps showing the host's
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, report)
        os.closerange(report + 1, 1 << 16)
        os.chdir("/")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        signal.signal(signal.SIGCHLD, lambda *_: _reap())
        os.write(report, b"ready\n")
        os.close(report)
    except BaseException as exc:  # reported through the pipe, the only way out
        try:
            os.write(report, f"error {exc}\n".encode())
        finally:
            os._exit(1)
    while True:
        signal.pause()


def _reap() -> None:
    """Collect every exited child (orphans of the node's pid namespace are re-parented to pid 1)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def start_init(ns_fd: int | None, action: StartInit, timeout: float = READY_TIMEOUT) -> ProcessRecord:
    """Start the node's init in the namespace ``ns_fd`` (None: this one); return once its namespaces are set
    up."""
    flags = 0
    for name in action.namespaces:
        flags |= NAMESPACES[name]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the intermediate child: never returns
        try:
            os.close(r)
            os.setsid()
            if ns_fd is not None:
                setns(ns_fd)
            unshare(flags)
            child = os.fork()
            if child == 0:
                _init(action, w)
            os.write(w, f"pid {child}\n".encode())
        except BaseException as exc:  # reported through the pipe, the only way out
            os.write(w, f"error {exc}\n".encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        os.waitpid(pid, 0)
        words = read_report(r, timeout)
    finally:
        os.close(r)
    what = f"step `{action.describe()}`"
    if "error" in words:
        raise ApplyError(f"{what} failed: {words['error']}")
    if "ready" not in words or not words.get("pid", "").isdigit():
        raise ApplyError(f"{what} did not report within {timeout:g} s")
    init = int(words["pid"])
    missing = sorted(set(action.namespaces) - set(own_namespaces(init)))
    if missing:  # the kernel gave us no new namespace: never run the node's commands in the host's
        raise ApplyError(f"{what}: its {', '.join(missing)} namespaces are the host's")
    return ProcessRecord(pid=init, start_time=process_start_time(init) or 0, node=action.node,
                         what=f"init: namespaces {' '.join(action.namespaces)}", netns_inode=netns_inode(init))


def apply(executor: Executor, actions: list[StartInit]) -> None:
    """Apply's executor: each node's init; recorded like a service, so ``down`` stops it."""
    for action in actions:
        executor.started(start_init(executor.fd(action.netns), action))


def main(argv: list[str] | None = None) -> int:
    """A node's init started by hand or by an exported lab script (``ip netns exec NS python3 -m
    netlab.features.isolation.kernel --node box --isolate uts ipc mnt pid``); returns once it is ready, as
    ``up``'s step does. The closest plain command: ``unshare --fork --pid --mount-proc --uts --ipc sleep
    infinity`` -- without the hostname, the /sys of the node and the name netlab finds it by."""
    import argparse
    import sys

    from netlab.features.isolation.model import ORDER
    from netlab.naming import is_node_name

    parser = argparse.ArgumentParser(prog="python3 -m netlab.features.isolation.kernel",
                                     description="Start a node's init in the current network namespace.")
    parser.add_argument("--node", required=True, help="the node (its hostname, with uts)")
    parser.add_argument("--isolate", nargs="+", choices=ORDER, required=True, help="namespaces of its own")
    args = parser.parse_args(argv)
    if not is_node_name(args.node):
        parser.error(f"--node: {args.node!r} is not a node name")
    action = StartInit("", args.node, tuple(n for n in ORDER if n in args.isolate))
    try:
        record = start_init(None, action)
    except ApplyError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    print(f"init of {args.node}: pid {record.pid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
