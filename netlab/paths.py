"""The run directory: where netlab keeps what must outlive one command, and how it is kept safe.

Under ``/run`` on purpose: a reboot empties ``/run`` and with it every namespace mount, so state, caches
and kernel objects go away together. ``NETLAB_RUN_DIR`` moves it (tests give each run a private one).

netlab runs as root and acts on what it finds here (it removes namespaces and kills processes a state
file names), so the directory is trusted only if nobody else could have written it:

* the run directory, its ``labs/`` and ``logs/``, and every directory above them, must belong to root (to
  the caller, when netlab runs unprivileged) and not be writable by group or others -- a world-writable
  ancestor is accepted only with the sticky bit (``/tmp``, ``/run`` on some systems), which stops others
  from renaming or removing what root made there;
* files are opened with ``O_NOFOLLOW`` and checked after opening (regular file, right owner, not
  writable by others): a planted symlink or a foreign file is refused, never followed;
* temporary files are created with ``O_EXCL`` and a random name, so a planted file cannot be written
  through;
* the lock file is ``0600``: ``flock`` works on a read-only descriptor, so a lock anyone can open is a
  lock anyone can hold forever.

A directory that fails these checks is an error that names it and says why, never silently used.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from netlab.errors import NetlabError

__all__ = ["UnsafeRunDir", "boot_id", "check_dir", "make_dir", "open_file", "read_file", "run_dir", "write_file"]


class UnsafeRunDir(NetlabError):
    """The run directory (or a file in it) could have been written by someone other than root."""

    exit_code = 1


def run_dir() -> Path:
    """The run directory: ``/run/netlab`` unless ``NETLAB_RUN_DIR`` says otherwise."""
    return Path(os.environ.get("NETLAB_RUN_DIR", "/run/netlab"))


def boot_id() -> str | None:
    """The kernel's id of this boot: what a per-boot cache (features, VM backends) is keyed by."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _owner_ok(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid())


def _why_unsafe(path: Path, st: os.stat_result, *, sticky_ok: bool) -> str | None:
    if not _owner_ok(st):
        return f"it belongs to uid {st.st_uid}, not root"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        if sticky_ok and st.st_mode & stat.S_ISVTX and st.st_mode & stat.S_IWOTH:
            return None
        who = "others" if st.st_mode & stat.S_IWOTH else "its group"
        return f"it is writable by {who} (mode {st.st_mode & 0o7777:o})"
    return None


def check_dir(path: Path) -> None:
    """Refuse ``path`` unless it and every directory above it are safe (see the module docstring)."""
    path = Path(os.path.abspath(path))
    for i, current in enumerate([path, *path.parents]):
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            if i == 0:
                raise UnsafeRunDir(f"refusing the run directory {path}: it is a symbolic link")
            st = os.stat(current)  # /var/run -> /run: an ancestor link is fine if what it points to is
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeRunDir(f"refusing the run directory {path}: {current} is not a directory")
        why = _why_unsafe(current, st, sticky_ok=i > 0)
        if why:
            raise UnsafeRunDir(f"refusing the run directory {path}: {current}: {why}\n"
                               f"    hint: netlab acts as root on what it finds there; use a directory only root "
                               f"can write (the default /run/netlab, or NETLAB_RUN_DIR)")


def make_dir(path: Path, mode: int = 0o755) -> Path:
    """Create ``path`` (and parents) if needed, then check it; returns it."""
    try:
        os.makedirs(path, mode=mode, exist_ok=True)
    except FileExistsError:
        pass  # a non-directory: check_dir says so
    check_dir(path)
    return path


def open_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """Open a file in a checked directory without following a symlink; refuse one someone else wrote."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeRunDir(f"refusing {path}: it is a symbolic link (netlab never writes through one here)") \
                from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeRunDir(f"refusing {path}: not a regular file")
        why = _why_unsafe(path, st, sticky_ok=False)
        if why:
            raise UnsafeRunDir(f"refusing {path}: {why}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(path: Path, limit: int = 64 << 20) -> str | None:
    """The text of ``path`` (None if it does not exist); a symlink or a foreign file raises UnsafeRunDir."""
    try:
        fd = open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeRunDir(f"refusing {path}: larger than {limit} bytes")
    return data.decode("utf-8", errors="replace")


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` atomically: a new file (O_EXCL, random name) renamed over it.

    No fsync: the rename is atomic for every reader and survives the writer's kill -9 (the data is in
    the page cache); what fsync adds is surviving a power loss, after which /run and every namespace are
    gone anyway. On a disk-backed /run it cost ≈ 0.1 s per state write at 1000 nodes.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
