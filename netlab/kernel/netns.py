"""Named network namespaces, made in-process.

``ip netns add`` and pyroute2's ``netns.create`` fork a helper per namespace; at a thousand nodes that
fork dominates the build (see bench/MEASUREMENTS.md §1). We do what they do, in this process instead:
``unshare(CLONE_NEWNET)`` moves the calling thread into a fresh namespace, we do the work that must
happen inside (open a netlink socket, which stays bound to that namespace; write the IPv6 sysctls;
tag and raise ``lo``), bind-mount the namespace onto ``/run/netns/NAME`` so it outlives us and ``ip
netns`` sees it, and ``setns`` back.

A namespace becomes visible under its name only after it has been tagged: if we are killed before
the bind mount, the kernel frees the anonymous namespace with us. What can be left is an empty
``/run/netns/NAME`` file, which the state journal lists so ``clean`` removes it.

Python 3.11 has no ``os.setns``/``os.unshare``, hence ctypes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MS_SLAVE = 1 << 19
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8
NETNS_DIR = Path("/run/netns")
FD_MARGIN = 64
"""Open files left free for everything else (state file, lock, subprocess pipes) by :func:`raise_fd_limit`."""

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

T = TypeVar("T")


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str, target: str, fstype: str, flags: int) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode(), flags, None), f"mount {target}")


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def _ensure_netns_dir() -> None:
    """Make /run/netns a shared mount point, exactly as iproute2 does.

    Shared propagation is what lets a namespace mounted here later be visible in mount namespaces
    that were cloned earlier (``ip netns exec``, ``netlab shell``).
    """
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    try:
        mount("", str(NETNS_DIR), "none", MS_SHARED | MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        mount(str(NETNS_DIR), str(NETNS_DIR), "none", MS_BIND | MS_REC)
        mount("", str(NETNS_DIR), "none", MS_SHARED | MS_REC)


class NetnsDirectory:
    """Prepares /run/netns once per process; holds the fd of the namespace we started in."""

    def __init__(self) -> None:
        self._prepared = False
        self.home_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def prepare(self) -> None:
        if not self._prepared:
            _ensure_netns_dir()
            self._prepared = True

    def create(self, name: str, inside: Callable[[], T]) -> tuple[int, T]:
        """Create namespace ``name``; run ``inside()`` in it before it gets its name.

        Returns an fd of the new namespace and what ``inside`` returned. Raises FileExistsError if
        the name is taken (we never adopt a namespace we did not make).
        """
        self.prepare()
        path = netns_path(name)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0)
        os.close(fd)
        ns_fd = -1
        mounted = False
        try:
            unshare(CLONE_NEWNET)
            try:
                # the fd first: if we run out of descriptors, nothing has been named yet
                ns_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                result = inside()
                mount("/proc/thread-self/ns/net", str(path), "none", MS_BIND)
                mounted = True
            finally:
                setns(self.home_fd)
        except BaseException:
            if ns_fd >= 0:
                os.close(ns_fd)
            if mounted:  # only if returning home failed; an unmounted file is all we may leave
                try:
                    umount(str(path))
                except OSError:
                    pass
            path.unlink(missing_ok=True)
            raise
        return ns_fd, result

    def close(self) -> None:
        os.close(self.home_fd)

    @contextmanager
    def entered(self, ns_fd: int) -> Iterator[None]:
        """Run a block inside namespace ``ns_fd`` (this thread only), then come back home."""
        setns(ns_fd)
        try:
            yield
        finally:
            setns(self.home_fd)


def raise_fd_limit(needed: int) -> int:
    """Make room for ``needed`` more open files; returns how many more can be opened.

    Why: apply keeps a namespace fd and a netlink socket open per namespace until it is done, and
    ``remove`` holds every namespace open while it unmounts them; at a thousand nodes that is more
    than the usual default soft limit of 1024 open files, and the build would fail half-way with
    EMFILE. The soft limit may be raised up to the hard limit by anyone; the hard limit is raised
    too if we may (root with CAP_SYS_RESOURCE). The limit is only ever raised.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    want = in_use + needed + FD_MARGIN
    if soft == resource.RLIM_INFINITY or soft >= want:
        return needed
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want) if hard != resource.RLIM_INFINITY
                                                    else hard))
        return needed
    except (ValueError, OSError):
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return max(0, limit - in_use - FD_MARGIN)


def is_mounted_netns(path: Path) -> bool:
    """True if ``path`` is a bind mount of a namespace (not a leftover empty file).

    Every namespace file lives on the kernel's one nsfs, so its device equals that of our own
    ``/proc/self/ns/net``.
    """
    try:
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except (FileNotFoundError, NotADirectoryError):
        return False


def netns_inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino if is_mounted_netns(path) else None
    except FileNotFoundError:
        return None


def remove_netns(name: str) -> bool:
    """Unmount and unlink ``/run/netns/NAME``. True if something was there.

    Never through a symlink (UMOUNT_NOFOLLOW, and a link is left alone): /run/netns is a place others may
    have written to, and a planted link must not make root detach some other mount.
    """
    path = netns_path(name)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return False
    except FileNotFoundError:
        return False
    try:
        umount(str(path), MNT_DETACH | UMOUNT_NOFOLLOW)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not a mount (leftover file)
            raise
    path.unlink(missing_ok=True)
    return True


def enter_for_exec(ns_fd: int) -> None:
    """For a child about to exec (preexec_fn): join the namespace as ``ip netns exec`` does.

    A private mount namespace with /sys remounted makes ``/sys/class/net`` show the node's
    interfaces instead of the host's; without it tools that read sysfs lie to the user.
    """
    setns(ns_fd)
    try:
        unshare(CLONE_NEWNS)
        # Only once our mounts no longer propagate back may /sys be swapped: without MS_SLAVE the
        # umount below would reach the caller's mount namespace too.
        mount("", "/", "none", MS_SLAVE | MS_REC)
    except OSError:
        return  # "/" is no mount point (a chroot) or mounts are not ours to make: the network
        # namespace alone still works, only /sys/class/net keeps showing the caller's interfaces
    try:
        umount("/sys")
        mount("sysfs", "/sys", "sysfs", 0)
    except OSError:
        pass  # no /sys to swap (a minimal container): the network namespace alone still works


@contextmanager
def inside(name: str) -> Iterator[bool]:
    """Run a block with this thread inside named namespace ``name``, then come back.

    Yields False (and stays home) if there is no such namespace any more, so readers like ``status``
    can say "gone" instead of failing when a namespace disappears under them.
    """
    path = netns_path(name)
    try:
        # O_NONBLOCK: whatever sits in /run/netns (a FIFO someone made) must not hang us; O_NOFOLLOW: a
        # symlink there is nobody's namespace
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        yield False
        return
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_dev != os.fstat(home).st_dev:  # a bare file: not (or no longer) a namespace
            yield False
            return
        setns(fd)
        try:
            yield True
        finally:
            setns(home)
    finally:
        os.close(fd)
        os.close(home)
