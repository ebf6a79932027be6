"""Errors netlab raises, each with the process exit code the CLI maps it to.

Exit codes are part of the interface (documented in README.md):

=====  ===============================================================
0      success
1      an operation failed (kernel error, a probe failed)
2      invalid input: topology file, arguments
3      the lab is not up
4      the kernel (or the machine) lacks a feature the lab needs
5      not permitted: netlab needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN)
=====  ===============================================================
"""

from __future__ import annotations

from netlab.core.frozen import frozen


class NetlabError(Exception):
    """Base class: a user-facing error with a message and an exit code (never a traceback)."""

    exit_code: int = 1


class ApplyError(NetlabError):
    """The kernel refused a step of the plan; ``up`` rolled back what it had made."""

    exit_code = 1


class InvalidInput(NetlabError):
    """The topology or the command line is wrong. Carries every diagnostic at once."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic] | None = None, message: str | None = None) -> None:
        self.diagnostics = list(diagnostics or [])
        if message is None:
            message = "\n".join(d.render() for d in self.diagnostics)
        super().__init__(message)


class LabNotUp(NetlabError):
    exit_code = 3


class MissingFeatures(NetlabError):
    """The running kernel lacks something the lab needs; nothing was created."""

    exit_code = 4


class MissingTool(MissingFeatures):
    """A program netlab (or a lab) runs is not installed: the remedy is a package, not a VM."""


class VmError(NetlabError):
    """The full-kernel VM could not be started (missing qemu, kernel image, ...)."""

    exit_code = 4


class VmBootError(VmError):
    """A guest kernel did not boot: it panicked, hung (killed by the watchdog), or died before netlab's
    guest script ran. Carries the backend and the guest's last lines, so the user sees the kernel's own
    words (the panic text), not only that something failed."""

    def __init__(self, backend: str, reason: str, tail: tuple[str, ...] = ()) -> None:
        self.backend = backend
        self.reason = reason
        self.tail = tail
        text = f"the {backend} VM did not boot: {reason}"
        if tail:
            text += "\n    its last lines:\n" + "\n".join(f"      {line}" for line in tail)
        super().__init__(text)


class NotPermitted(NetlabError):
    exit_code = 5


@frozen
class Diagnostic:
    """One problem in a topology file: where (file, line, data path), what, and a hint."""

    file: str
    line: int | None
    path: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return printable(text)


def printable(text: str) -> str:
    """``text`` with control characters (terminal escape sequences above all) shown as escapes, newlines kept.

    Diagnostics quote what a file contains, and a file can contain ESC sequences that would rewrite the
    user's terminal."""
    return "".join(c if c == "\n" or c.isprintable() else repr(c)[1:-1] for c in text)
