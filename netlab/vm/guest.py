"""The script a guest kernel runs: PID 1 under user-mode-linux, ``vng --exec`` under QEMU.

Its first job is to tell the host that the kernel booted: it lowers the console log level (from then on
only a panic reaches the console) and prints a marker line carrying a per-run nonce on stdout and stderr.
Everything the host reads before the marker is the kernel's boot log -- kept for the error message if the
boot fails, never shown as the command's output -- and the boot watchdog stops there (netlab.vm.launch).

Then: load the modules netlab labs use (each failure ignored), make ``/run/netns``, export the host's
``PATH`` (so a venv's ``python`` and ``netlab`` resolve) and ``PYTHONDONTWRITEBYTECODE=1`` (the guest
must not litter the host's tree with ``__pycache__``), ``cd`` to the working directory and run the command
with stdin from /dev/null. Its exit status goes to a file in the exchange directory: the absence of that
file means the guest died (panic, out of memory, killed), reported as such and never mistaken for the
command's own failure.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from netlab.core.catalog import vm_modules
from netlab.kernel.tools import with_sbin
from netlab.vm.backends import UML_MODULES, VmBackend

__all__ = ["EXCHANGE_RC", "end_marker", "guest_environment", "guest_script", "marker"]

EXCHANGE_RC = "rc"
# Host environment variables carried into the guest (besides PATH, always carried, and the caller's ``env``).
_CARRIED_ENV = ("HOME", "LANG", "LC_ALL", "TERM", "VIRTUAL_ENV", "PYTHONPATH", "NO_COLOR", "FORCE_COLOR", "CI")
_OVERLAID = ("/etc", "/var", "/root", "/home", "/tmp", "/opt", "/srv")


def marker(nonce: str) -> bytes:
    """Printed (on a line of its own) once the kernel is up; the nonce keeps a command's output from faking it."""
    return f"@@netlab-guest-up {nonce}@@".encode()


def end_marker(nonce: str) -> bytes:
    """Printed after the command's last output: what follows (the kernel powering off) is not its output."""
    return f"@@netlab-guest-done {nonce}@@".encode()


def guest_environment(env: Mapping[str, str] | None, host_env: Mapping[str, str]) -> dict[str, str]:
    """The variables the command sees in the guest: PATH and a few others from the host, then ``env``."""
    out = {k: host_env[k] for k in _CARRIED_ENV if k in host_env}
    out["PATH"] = with_sbin(host_env.get("PATH", os.defpath))
    out["PYTHONDONTWRITEBYTECODE"] = "1"
    out["NETLAB_IN_VM"] = "1"
    out.update(env or {})
    return out


def _announce(nonce: str) -> list[str]:
    """Quiet the console (only panics from now on) and tell the host the kernel is up, on both streams."""
    line = shlex.quote(marker(nonce).decode())
    return ["echo 1 > /proc/sys/kernel/printk 2>/dev/null", f"echo {line}", f"echo {line} >&2"]


def _uml_prelude(exchange: Path, writable: Sequence[Path], interactive: bool, nonce: str) -> list[str]:
    """PID 1 housekeeping in UML: the kernel hands us a bare hostfs root, read-only."""
    lines = []
    if not interactive:
        # First, so that the prelude's own errors reach the host too: stdout -> console 0 (host fd 1),
        # stderr -> console 1 (host fd 2), both raw so that "\n" does not become "\r\n".
        lines += [
            "stty -F /dev/console raw -echo 2>/dev/null",
            "stty -F /dev/tty1 raw -echo 2>/dev/null",
            "exec 1>/dev/console 2>/dev/tty1",
        ]
    lines += ["mount -t proc proc /proc", *_announce(nonce)]
    lines += [
        "mount -t sysfs sysfs /sys",
        "mount -t tmpfs -o mode=755 tmpfs /run",
        "mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm",
        "mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null",
        # Modules: Debian ships UML's outside /lib/modules (no clash with the host kernel's), and a machine
        # with no kernel package (a container, a minimal install) has no /lib/modules to bind them onto.
        # So modprobe gets a root of its own under /run, through a wrapper that is first on PATH and is
        # the kernel's own module loader (autoload of ip_gre, sch_netem, ip_vs_wrr, ...).
        "netlab_modprobe=$(PATH=/usr/sbin:/sbin:$PATH command -v modprobe)",
        f"mkdir -p /run/netlab-uml/lib/modules /run/netlab-uml/bin && mount --bind {UML_MODULES} "
        "/run/netlab-uml/lib/modules",
        "printf '#!/bin/sh\\nexec %s -d /run/netlab-uml \"$@\"\\n' \"$netlab_modprobe\""
        " > /run/netlab-uml/bin/modprobe && chmod 755 /run/netlab-uml/bin/modprobe",
        "echo /run/netlab-uml/bin/modprobe > /proc/sys/kernel/modprobe",
        "export PATH=/run/netlab-uml/bin:$PATH",
        "modprobe -q overlay",
        # Writable but private copies of the places programs write to; the host's files are untouched.
        f"for d in {' '.join(_OVERLAID)}; do",
        "  [ -d $d ] || continue",
        "  o=/run/netlab-ovl$d; mkdir -p $o/u $o/w",
        "  mount -t overlay overlay -o lowerdir=$d,upperdir=$o/u,workdir=$o/w $d",
        "done",
        # The host directories the command may write: mounted last, so they sit on top of the overlays.
        *(f"mount -t hostfs -o {shlex.quote(str(d))} none {shlex.quote(str(d))}" for d in writable),
        f"mount -t hostfs -o {shlex.quote(str(exchange))} none {shlex.quote(str(exchange))}",
        "hostname netlab-vm 2>/dev/null",
        "ip link set lo up",
    ]
    return lines


def _run_lines(command: str, backend: VmBackend, interactive: bool) -> list[str]:
    if interactive and backend is VmBackend.UML:
        # A controlling terminal, so that ^C and job control reach the command.
        return [f"setsid -c {command} </dev/console >/dev/console 2>&1", "netlab_rc=$?"]
    if interactive:
        return [command, "netlab_rc=$?"]
    if backend is VmBackend.UML:
        # The consoles are terminals: handed to the command directly, it would believe it writes to a tty
        # (colours, progress bars, line buffering). Give it pipes and copy them to the consoles instead.
        return [
            "mkfifo /run/netlab-stdout /run/netlab-stderr",
            "cat /run/netlab-stdout & netlab_out=$!",
            "cat /run/netlab-stderr >&2 & netlab_err=$!",
            f"{command} </dev/null >/run/netlab-stdout 2>/run/netlab-stderr",
            "netlab_rc=$?",
            # Daemons the command left running may hold the pipes open: 2 s to drain, then stop copying.
            "(sleep 2; kill $netlab_out $netlab_err) 2>/dev/null &",
            "wait $netlab_out $netlab_err 2>/dev/null",
        ]
    return [f"{command} </dev/null", "netlab_rc=$?"]


def guest_script(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    exchange: Path,
    backend: VmBackend,
    writable: Sequence[Path] = (),
    interactive: bool = False,
    nonce: str = "",
) -> str:
    """The bash script the guest runs (``nonce`` defaults to the exchange directory's name)."""
    nonce = nonce or exchange.name
    lines = ["#!/bin/bash", "# Written by netlab.vm.guest; runs inside the guest kernel.", "set +e"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
    if backend is VmBackend.UML:
        lines += _uml_prelude(exchange, writable, interactive, nonce)
    else:
        lines += _announce(nonce)
    lines += [
        # One modprobe process (≈ 5x faster than one per module); -a goes on past a module that fails.
        f"modprobe -a -q {' '.join(vm_modules())} 2>/dev/null",
        "mkdir -p /run/netns",
    ]
    run = _run_lines(shlex.join(argv), backend, interactive)
    # A cwd the guest cannot enter is the command's failure (126, as for a command that cannot run),
    # not a dead VM.
    lines += [f"if cd {shlex.quote(str(cwd))}; then", *("  " + line for line in run), "else"]
    lines += [f"  echo {shlex.quote(f'netlab vm: cannot cd to {cwd} in the guest')} >&2", "  netlab_rc=126", "fi"]
    done = shlex.quote(end_marker(nonce).decode())
    lines += [f"echo $netlab_rc > {shlex.quote(str(exchange / EXCHANGE_RC))}", "sync"]
    if not interactive:
        lines += [f"printf '%s\\n' {done}", f"printf '%s\\n' {done} >&2"]
    if backend is VmBackend.UML:
        # poweroff -f (systemctl) may be absent in a minimal root; sysrq 'o' always powers UML off.
        lines.append("poweroff -f >/dev/null 2>&1 || echo o > /proc/sysrq-trigger")
    return "\n".join(lines) + "\n"
