"""Which ``iptables-restore`` works in this kernel, found by loading one rule in a scratch namespace.

Why a kernel primitive: doctor's prober, the requirement check and the iptables feature all need the same
answer (Debian's default is the nft build; some kernels only take iptables-legacy), and the prober cannot
import a feature. Nothing is ever loaded outside a throwaway namespace (``unshare(CLONE_NEWNET)`` in the
child before exec).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable

from netlab.core.frozen import frozen
from netlab.kernel.netns import CLONE_NEWNET, unshare
from netlab.kernel.tools import sbin_path

CANDIDATES = ("iptables-restore", "iptables-legacy-restore")
PROBE_PAYLOAD = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment netlab-probe -j ACCEPT\nCOMMIT\n"
TIMEOUT = 30.0


@frozen
class Backend:
    restore: str
    """Absolute path of the ``iptables-restore`` that works here."""
    save: str
    how: str
    """What was tried, for messages."""

    @property
    def name(self) -> str:
        return os.path.basename(self.restore)


class NoBackend(Exception):
    """No iptables-restore works in this kernel."""


def env() -> dict[str, str]:
    return {**os.environ, "PATH": sbin_path(), "LC_ALL": "C"}


def run(argv: list[str], payload: str, preexec: Callable[[], object]) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, input=payload, capture_output=True, text=True, env=env(), check=False,
                              timeout=TIMEOUT, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        return -1, f"`{' '.join(argv)}` did not finish in {TIMEOUT:g} s"
    except (OSError, subprocess.SubprocessError) as exc:
        # entering the namespace failed in the child (preexec_fn): iptables never ran, least of all in
        # the caller's own namespace
        return -1, f"`{os.path.basename(argv[0])}` not run: {exc}"
    return proc.returncode, (proc.stderr + proc.stdout).strip()


@functools.lru_cache(maxsize=1)
def detect_backend() -> Backend:
    """The first of :data:`CANDIDATES` that loads a rule in a scratch namespace. Raises :class:`NoBackend`."""
    tried = []
    for name in CANDIDATES:
        path = shutil.which(name, path=sbin_path())
        if path is None:
            tried.append(f"{name}: not installed")
            continue
        code, out = run([path], PROBE_PAYLOAD, lambda: unshare(CLONE_NEWNET))
        if code == 0:
            save = path.replace("-restore", "-save")
            return Backend(path, save, f"{name} loaded a rule in a scratch namespace"
                           + (f" ({'; '.join(tried)})" if tried else ""))
        tried.append(f"{name}: {message(out) or f'exit {code}'}")
    raise NoBackend("no iptables-restore works in this kernel: " + "; ".join(tried))


def message(output: str) -> str:
    """iptables' own words, without its banner, the line number and the "Try --help" line."""
    kept = []
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith(("Try `", "Error occurred at line")):
            continue
        line = re.sub(r"^iptables-restore(?: v[\d.]+)?(?: \([\w_]+\))?:\s*", "", line)
        if line:
            kept.append(line)
    return " ".join(kept)
