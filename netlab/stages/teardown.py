"""Teardown: find what netlab made (by tag, never by name), stop what runs in it, remove it.

``down`` and ``clean`` (netlab.pipeline) and apply's rollback share these. Callers pass only namespaces they
have established are netlab's (by the state journal and the tag); nothing here decides by a name.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import time
from collections import defaultdict
from collections.abc import Iterable

from netlab.kernel.netlink import RtnlSocket
from netlab.kernel.netns import netns_path, raise_fd_limit, remove_netns
from netlab.ownership import NamespaceTag


def read_namespace_tag(name: str) -> NamespaceTag | None:
    """The netlab tag on ``lo`` of namespace ``name``, or None (not ours, not a namespace, gone)."""
    from netlab.kernel.netns import inside

    with inside(name) as present:  # a bare file, or one removed since it was listed, is not ours to judge
        if not present:
            return None
        sock = RtnlSocket()  # stays bound to the namespace after we leave it
    try:
        return NamespaceTag.parse(sock.link_alias(1))
    finally:
        sock.close()


def tagged_namespaces() -> list[tuple[str, NamespaceTag]]:
    """Every named namespace that carries a netlab tag, with its tag: what ``clean`` and leak checks
    look at (by tag, never by name)."""
    from netlab.kernel.netns import NETNS_DIR

    if not NETNS_DIR.is_dir():
        return []
    found = []
    for entry in sorted(NETNS_DIR.iterdir()):
        tag = read_namespace_tag(entry.name)
        if tag is not None:
            found.append((entry.name, tag))
    return found


def pids_in_namespaces(names: Iterable[str]) -> dict[str, list[int]]:
    """Processes whose network namespace is one of ``names`` (one pass over /proc)."""
    inodes: dict[int, str] = {}
    for name in names:
        try:
            inodes[os.stat(netns_path(name)).st_ino] = name
        except FileNotFoundError:
            continue
    found: dict[str, list[int]] = defaultdict(list)
    if not inodes:
        return found
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            ino = os.stat(f"/proc/{entry.name}/ns/net").st_ino
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if ino in inodes:
            found[inodes[ino]].append(int(entry.name))
    return found


def kill_processes(pids: list[int], grace: float = 1.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL what is left.

    Through pidfds: a pidfd names the process, not its number, so a pid reused in the meantime is never
    signalled, and it becomes readable the moment the process exits -- ``down`` returns when the last one
    is gone instead of on the next tick of a 20 ms poll (a third of ``netlab down routed``'s own work)."""
    fds: dict[int, int] = {}
    for pid in pids:
        try:
            fds[pid] = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            signal.pidfd_send_signal(fds[pid], signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        poller = select.poll()
        by_fd = {fd: pid for pid, fd in fds.items()}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + grace
        while by_fd and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                poller.unregister(fd)
                _reap(by_fd.pop(fd))
        for fd in by_fd:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        for fd in fds.values():
            os.close(fd)


def _reap(pid: int) -> None:
    """Collect an exited child of ours (a service's runner may be): anyone else's is not ours to wait for."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def remove_namespaces(names: Iterable[str]) -> list[str]:
    """Kill what runs in the namespaces, then unmount and unlink them. Returns those removed.

    Callers pass only namespaces they have established are netlab's (by the state journal and the
    tag); this function does not look at names.

    Every namespace is held open (one fd each) until all are unmounted. Unmounting the last
    reference starts the kernel's destruction of that namespace on a worker thread, and each
    ``umount`` waits for an expedited RCU grace period, which that destruction (a thousand veths
    and bridge ports) keeps delaying: unmounting one by one while the first ones are being
    destroyed took 0.3 to 0.4 s at N=1000, single calls stalling up to 170 ms; holding them took
    0.04 s. Destruction then starts when we close the fds, and runs after we return.
    """
    names = list(names)
    pids = [p for group in pids_in_namespaces(names).values() for p in group]
    if pids:
        kill_processes(pids)
    held: list[int] = []
    removed: list[str] = []
    room = raise_fd_limit(len(names))
    try:
        for name in names[:room]:  # with too few fds, the rest is only removed more slowly
            try:
                # O_NONBLOCK: whatever the file turned out to be (a FIFO?), opening it must not hang
                held.append(os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK))
            except OSError:
                pass  # gone already, or not openable: remove_netns below decides
        for name in names:
            try:
                if remove_netns(name):
                    removed.append(name)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
    finally:
        for fd in held:
            os.close(fd)
    return removed
