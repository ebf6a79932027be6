"""A node's init: the process that holds a node's namespaces beyond the network one (uts, ipc, pid, mnt).

A network namespace outlives its processes because ``/run/netns/<name>`` pins it. The others are pinned here the
way a container runtime pins them: by a process. A node that has them runs one init -- pid 1 of its own pid
namespace, in the node's network namespace -- and everything netlab runs "in the node" (commands, services,
``netlab exec``, state probes) joins the init's namespaces as ``docker exec`` joins a container's, ``nsenter``
style. When the init exits, the kernel kills every process of its pid namespace and frees the rest.

The init is found again from the kernel, never from a file: the one process in the node's network namespace
whose ``NSpid`` ends in 1 (pid 1 of a pid namespace below ours) and whose name is :data:`INIT_NAME`. So a state
file cannot point netlab at somebody else's process, and ``down``, which kills every process of the network
namespace, stops it with the rest.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

from netlab.kernel.netns import setns

INIT_NAME = "netlab-init"
"""The init's process name (``comm``): what ``ps`` shows as pid 1 inside the node."""

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
NAMESPACES: dict[str, int] = {"uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "mnt": CLONE_NEWNS, "pid": CLONE_NEWPID}
"""The namespaces a node may have of its own beyond ``net``, by their ``/proc/PID/ns`` names; ``pid`` last: it
takes effect at the next fork, so it must be joined after the mount namespace that shows its /proc."""
_NSENTER = {"uts": "--uts", "ipc": "--ipc", "mnt": "--mount", "pid": "--pid"}


def node_init(ns_fd: int) -> int | None:
    """The pid of the init of the node whose network namespace is ``ns_fd``, or None (the node has none)."""
    netns = os.fstat(ns_fd).st_ino
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino != netns:
                continue
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                status = dict(line.rstrip("\n").partition(":")[::2] for line in f)
        except OSError:
            continue  # exited meanwhile
        nspid = status.get("NSpid", "").split()
        if status.get("Name", "").strip() == INIT_NAME and len(nspid) >= 2 and nspid[-1] == "1":
            return int(entry.name)
    return None


def outer_pid(ns_fd: int, inner: int) -> int | None:
    """Our pid of the process of the node's pid namespace whose pid there is ``inner`` (``NSpid`` lists a
    process's pid in each pid namespace from ours down), or None."""
    init = node_init(ns_fd)
    if init is None:
        return None
    pidns = os.stat(f"/proc/{init}/ns/pid").st_ino
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/pid").st_ino != pidns:
                continue
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                nspid = next((line.split()[1:] for line in f if line.startswith("NSpid:")), [])
        except OSError:
            continue
        if len(nspid) >= 2 and nspid[-1] == str(inner):
            return int(entry.name)
    return None


def own_namespaces(pid: int) -> list[str]:
    """The namespaces of :data:`NAMESPACES` that process ``pid`` has of its own (not ours), in joining order."""
    out = []
    for name in NAMESPACES:
        try:
            if os.stat(f"/proc/{pid}/ns/{name}").st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                out.append(name)
        except FileNotFoundError:
            continue
    return out


def exec_argv(ns_fd: int, argv: list[str], enter_netns: Callable[[int], None],
              may_have_init: bool = True) -> tuple[list[str], Callable[[], None]]:
    """What to run, and the preexec_fn to run it with, for ``argv`` inside a node.

    A node without an init: ``argv`` as it is, entering the network namespace with ``enter_netns`` (``ip netns
    exec``'s way; also when ``may_have_init`` is False: the caller's plan starts no init there, and finding one
    scans every process). A node with one: ``nsenter --target <init> --net --uts ...`` -- the exact command a user would
    type -- because joining a pid namespace takes a fork between ``setns`` and ``exec``, which nsenter does.
    """
    init = node_init(ns_fd) if may_have_init else None  # the scan of /proc costs O(processes): skip it when
    if init is None:                                      # the caller knows the node has no init
        return argv, lambda: enter_netns(ns_fd)
    flags = [_NSENTER[name] for name in own_namespaces(init)]
    return ["nsenter", f"--target={init}", "--net", *flags, "--", *argv], lambda: None


def enter_node(ns_fd: int, may_have_init: bool = True) -> bool:
    """Join the node's network namespace and, if it has an init, the init's other namespaces (this process
    must be single-threaded: joining a mount namespace requires it). True if a pid namespace was joined: only
    children forked from now on are in it, so a caller that must be inside forks once more."""
    setns(ns_fd)
    init = node_init(ns_fd) if may_have_init else None
    if init is None:
        return False
    names = own_namespaces(init)
    fds = {name: os.open(f"/proc/{init}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name in names}
    try:
        for name in names:
            setns(fds[name], NAMESPACES[name])
    finally:
        for fd in fds.values():
            os.close(fd)
    if "mnt" in names:
        os.chdir("/")
    return "pid" in names


def run_in_netns(ns_fd: int, argv: list[str], *, capture: bool = False, env: dict[str, str] | None = None,
                 may_have_init: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside a namespace (as ``ip netns exec`` would, /sys included); wait for it."""
    from netlab.kernel.netns import enter_for_exec

    full, preexec = exec_argv(ns_fd, argv, enter_for_exec, may_have_init)  # a node with an init: nsenter into it
    return subprocess.run(full, preexec_fn=preexec, text=True, env=env,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None, check=False)
