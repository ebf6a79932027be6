"""What this kernel (and this machine) can do, found out by trying.

Why trying rather than reading ``/proc/config.gz`` or ``modules.dep``: a config symbol says nothing about a
module that cannot be loaded (``CONFIG_MODULES`` off, a missing ``linux-modules-extra`` package, a container
without ``/lib/modules``), and the only answer that predicts whether ``netlab up`` will work is the kernel's
own answer to the very netlink request ``up`` will send. So every kernel feature is probed by doing the real
thing -- create a ``gre`` link, add a qdisc, add an IPVS service with a given scheduler -- in a throwaway
network namespace.

How it stays harmless and fast:

* One ``os.fork()``: the child ``unshare(CLONE_NEWNET)`` s (``netns.unshare``, via libc: Python 3.11 has no
  ``os.unshare``), runs every probe inside that scratch namespace, writes the results as JSON into a pipe and
  ``_exit`` s. The kernel destroys the namespace -- and every link, qdisc and IPVS service in it -- when the
  child exits, so nothing is ever created in, or left in, the caller's namespace. All probes share one child
  (≈ 20 ms in total on the development host, plus the one-time ``import pyroute2``).
* Without root, the child tries ``CLONE_NEWUSER | CLONE_NEWNET`` instead: in a namespace it owns an
  unprivileged user has ``CAP_NET_ADMIN``, so the answers stay real.
* Asking for a link kind, qdisc, IPVS scheduler or generic-netlink family the kernel lacks makes a full
  kernel load the module itself (aliases ``rtnl-link-gre``, ``sch_netem``, ``ip_vs_wrr``,
  ``net-pf-16-proto-16-family-IPVS``; checked in Debian's 6.1 kernels with every module unloaded first).
  Should the IPVS family still be missing, the child runs ``modprobe -q ip_vs`` once -- as ``ipvsadm``
  does -- and says so in ``how``. Loading a module configures nothing, with one visible effect:
  the tunnel modules make the kernel add its down, unconfigured fallback devices (``tunl0``, ``gre0``,
  ``gretap0``, ``erspan0``, ``ip6gre0``, ``ip6tnl0``) to every namespace, the root one included -- as any
  first ``ip link add type gre`` on that machine would.

Tools (``tool:ipvsadm``...) are looked up on ``PATH`` in the calling process; they need no namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import time
from collections.abc import Sequence
from typing import Any

from netlab.core import catalog
from netlab.core.catalog import canonical_name
from netlab.core.frozen import frozen
from netlab.kernel import tools
from netlab.kernel.netns import CLONE_NEWNET, unshare
from netlab.kernel.prober import Prober, Result, errno_text

__all__ = [
    "KNOWN_FEATURES",
    "FeatureStatus",
    "canonical_name",
    "detect",
    "detect_all",
    "detect_many",
]


@frozen
class FeatureStatus:
    """The answer for one feature.

    ``how`` says what was tried and what the kernel answered, so that a "no" can be checked by hand;
    ``detail`` says what it means for the user (what to install, or where to run instead).
    """

    name: str
    available: bool
    how: str
    detail: str


_TOOL_PREFIX = catalog.TOOL_PREFIX
KNOWN_FEATURES = catalog.known()

_CLONE_NEWUSER = 0x10000000
_CHILD_TIMEOUT_S = 30.0  # first-time module loading on a big kernel can take seconds; a hang must not




def detect(name: str) -> FeatureStatus:
    """Probe one feature. Raises ``KeyError`` for a name that is not in ``KNOWN_FEATURES``."""
    return detect_many([name])[0]


def detect_all() -> list[FeatureStatus]:
    """Probe every feature in ``KNOWN_FEATURES`` (kernel features in one forked child, then tools)."""
    return detect_many(list(KNOWN_FEATURES))


def detect_many(names: Sequence[str]) -> list[FeatureStatus]:
    """Probe ``names`` (in that order) with at most one forked child; the cheap way to check a lab's needs."""
    wanted = [canonical_name(n) for n in names]
    unknown = [n for n in wanted if n not in KNOWN_FEATURES]
    if unknown:
        raise KeyError(f"unknown feature(s): {', '.join(unknown)}; known: {', '.join(KNOWN_FEATURES)}")
    kernel = [n for n in wanted if not n.startswith(_TOOL_PREFIX)]
    results: dict[str, Result] = _run_kernel_probes(kernel) if kernel else {}
    out: list[FeatureStatus] = []
    for name in wanted:
        if name.startswith(_TOOL_PREFIX):
            out.append(_detect_tool(name[len(_TOOL_PREFIX) :]))
        else:
            available, how, detail = results[name]
            out.append(FeatureStatus(name, available, how, detail))
    return out


# --------------------------------------------------------------------------------------------------- tools


def _detect_tool(tool: str) -> FeatureStatus:
    name = f"{_TOOL_PREFIX}{tool}"
    on_path = shutil.which(tool)
    if on_path:
        return FeatureStatus(name, True, f"found on PATH: {on_path}", "")
    elsewhere = tools.which(tool)
    if elsewhere:
        return FeatureStatus(
            name, True, f"not on PATH but at {elsewhere}", f"add {os.path.dirname(elsewhere)} to PATH"
        )
    return FeatureStatus(
        name, False, f"`{tool}` not found on PATH (nor in /usr/sbin, /sbin)", tools.install_hint(tool)
    )


# ------------------------------------------------------------------------------------- the forked child


def _run_kernel_probes(names: Sequence[str]) -> dict[str, Result]:
    """Fork, probe in a scratch namespace, collect the JSON answer; never raises for a probe failure."""
    try:
        # Imported before the fork, so that repeated detections pay for it once.
        import pyroute2  # noqa: F401
    except ImportError as exc:
        return {
            n: (False, "not tested: pyroute2 cannot be imported", f"pip install pyroute2 ({exc})")
            for n in names
        }
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_fd)
            payload = json.dumps(_child_main(names)).encode()
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # the parent reports a silent child; nothing may escape a fork
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    data, timed_out = _read_all(read_fd, _CHILD_TIMEOUT_S)
    if timed_out:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    try:
        raw: dict[str, list[Any]] = json.loads(data.decode()) if data else {}
        return {n: (bool(raw[n][0]), str(raw[n][1]), str(raw[n][2])) for n in names}
    except (ValueError, KeyError, IndexError):
        why = f"timed out after {_CHILD_TIMEOUT_S:.0f} s" if timed_out else f"wait status {status}"
        return {n: (False, f"not tested: the probe process failed ({why})", "") for n in names}


def _read_all(fd: int, timeout: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks), True
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
    finally:
        os.close(fd)


def _unshare_scratch_netns() -> tuple[str, str]:
    """Enter a new network namespace (this process only). Returns (how it was done, error text or '')."""
    try:
        unshare(CLONE_NEWNET)
        return "unshare(CLONE_NEWNET)", ""
    except OSError as exc:
        first = exc.errno or 0
    uid, gid = os.getuid(), os.getgid()
    try:
        unshare(_CLONE_NEWUSER | CLONE_NEWNET)
    except OSError as exc:
        return "", (
            f"unshare(CLONE_NEWNET) failed: {errno_text(first)}; with CLONE_NEWUSER: {errno_text(exc.errno or 0)}"
        )
    # Map ourselves to root in the new user namespace: tools such as iptables check euid == 0.
    for path, text in (("uid_map", f"0 {uid} 1"), ("setgroups", "deny"), ("gid_map", f"0 {gid} 1")):
        with contextlib.suppress(OSError), open(f"/proc/self/{path}", "w") as handle:
            handle.write(text)
    return "unshare(CLONE_NEWUSER|CLONE_NEWNET) (not root)", ""


def _child_main(names: Sequence[str]) -> dict[str, Result]:
    """Runs in the forked child only. Quiet: pyroute2 logs a missing generic-netlink family loudly."""
    import logging

    logging.getLogger("pyroute2").setLevel(logging.CRITICAL + 1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    mode, err = _unshare_scratch_netns()
    if err:
        detail = "run as root (or allow unprivileged user namespaces) to test kernel features"
        return {n: (False, f"not tested: {err}", detail) for n in names}
    return Prober(mode).run(names)
