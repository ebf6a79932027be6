"""Userspace programs netlab runs, where to find them, and what to say when one is missing.

Why one module: a lab can need ``iptables-restore``, ``ping`` or ``socat`` as much as it needs a kernel
feature, and the remedy differs. A missing kernel feature is fixed by a full-kernel VM; a missing program
is fixed by ``apt-get install``. Every place that runs a program asks here, so the user always gets the
package to install -- never a ``FileNotFoundError`` traceback, never "use the VM" for a missing binary.

Programs are looked up on ``PATH`` plus the sbin directories, because a non-root shell (and ``sudo`` with a
secure_path) often lacks ``/usr/sbin`` where ``ipvsadm`` and ``iptables`` live.
"""

from __future__ import annotations

import os

from netlab.core.catalog import TOOL_PACKAGES
from netlab.errors import MissingTool

__all__ = ["TOOL_PACKAGES", "install_hint", "require", "sbin_path", "which", "with_sbin"]




def with_sbin(path: str) -> str:
    """``path`` (empty entries dropped) plus the sbin directories it lacks, appended."""
    parts = [p for p in path.split(os.pathsep) if p]
    return os.pathsep.join(parts + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in parts])


def sbin_path() -> str:
    """This process's PATH plus the sbin directories."""
    return with_sbin(os.environ.get("PATH", os.defpath))


def which(tool: str) -> str | None:
    """Full path of ``tool`` on PATH or in an sbin directory, or None."""
    import shutil  # here: shutil imports zlib, bz2 and lzma, and most commands never look a tool up

    return shutil.which(tool, path=sbin_path())


def install_hint(tool: str) -> str:
    """``apt-get install -y iputils-ping`` for ``ping``: the command that makes ``tool`` exist."""
    return f"apt-get install -y {TOOL_PACKAGES.get(tool, tool)}"


def require(tool: str, why: str) -> str:
    """Full path of ``tool``; raises :class:`MissingTool` (exit 4) saying why it is needed and how to get it."""
    found = which(tool)
    if found is None:
        raise MissingTool(f"`{tool}` is not installed; {why}\n    hint: {install_hint(tool)}")
    return found
