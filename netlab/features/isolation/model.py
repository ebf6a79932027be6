"""The ``isolate:`` key of a node: which namespaces beyond ``net`` the node has of its own."""

from __future__ import annotations

from typing import Literal

Namespace = Literal["uts", "ipc", "pid", "mnt"]
"""``uts`` (hostname), ``ipc`` (System V IPC, POSIX queues), ``pid`` (process ids), ``mnt`` (mounts): the
namespaces ``docker run`` gives a container besides ``net`` (``/proc/PID/ns`` names)."""
ORDER: tuple[Namespace, ...] = ("uts", "ipc", "mnt", "pid")


def check_isolate(value: tuple[Namespace, ...]) -> tuple[Namespace, ...]:
    """Each namespace once, and ``pid`` only with ``mnt``: a pid namespace is seen through a /proc mounted in
    it, and mounting one outside a mount namespace of the node's own would change the host's /proc."""
    if len(set(value)) != len(value):
        raise ValueError("a namespace is named twice")
    if "pid" in value and "mnt" not in value:
        raise ValueError("pid needs mnt too: the node's /proc, which shows its pid namespace, is mounted in "
                         "a mount namespace of its own (write [pid, mnt], as docker does)")
    return tuple(n for n in ORDER if n in value)
