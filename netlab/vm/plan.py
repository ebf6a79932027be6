"""The host command line that boots a backend, decided before anything runs (pure data, unit-tested).

UML (``linux.uml``): the host's ``/`` through hostfs, read-only; guest RAM backed by a file in ``$TMPDIR``.
The kernel's console is console 0 (host fd 1) and prints its boot at the default log level, so a panic's
text reaches the host; the guest script then turns the console down (netlab.vm.guest).

QEMU (``vng``): virtme-ng boots ``/boot/vmlinuz-*`` with the host's root over 9p. ``--force-9p``:
virtme-ng otherwise waits ≈ 4 s for a virtiofsd that, where one is installed but cannot run, never comes.
``--verbose``: the kernel's boot log streams to stderr, which is what the boot watchdog watches and what
a failed boot is reported with. ``--disable-kvm`` for TCG.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.errors import VmError
from netlab.vm.backends import UML_BINARY, VmBackend, find_vng, find_vng_kernel, prerequisites
from netlab.vm.guest import guest_environment, guest_script

__all__ = ["VmPlan", "build_plan", "describe_plan", "memory_bytes"]


@frozen
class VmPlan:
    """Everything decided before the boot: the host command line and the script the guest runs."""

    backend: VmBackend
    argv: tuple[str, ...]
    guest_script: str
    script_path: Path
    exchange: Path
    nonce: str
    host_env: tuple[tuple[str, str], ...]


def memory_bytes(memory: str) -> int:
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", memory.strip().upper())
    if not match:
        raise VmError(f"memory size {memory!r} not understood (use e.g. 512M or 2G)")
    return int(match.group(1)) * (1 << (10 * "_KMGT".index(match.group(2) or "_")))


def _uml_tmpdir(memory: str, exchange: Path) -> Path:
    """UML backs guest RAM with a file in $TMPDIR or /dev/shm; a small /dev/shm (Docker: 64 MiB) SIGBUSes."""
    try:
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize >= memory_bytes(memory):
            return Path("/dev/shm")
    except OSError:
        pass
    return exchange


def _uml_argv(memory: str, exchange: Path, script_path: Path) -> list[str]:
    return [str(UML_BINARY), f"mem={memory}", "rootfstype=hostfs", "rootflags=/", "ro", f"init={script_path}",
            "con=null", "con0=fd:0,fd:1", "con1=null,fd:2", "ssl=null", f"uml_dir={exchange / 'uml'}",
            f"umid={exchange.name}"]


def _qemu_argv(backend: VmBackend, *, vng: Path, kernel: Path, cpus: int, memory: str, cwd: Path,
               shared: Iterable[Path], exchange: Path, script_path: Path, interactive: bool) -> list[str]:
    cmd = [str(vng), "--run", str(kernel), "--force-9p"]
    if backend is VmBackend.TCG:
        cmd.append("--disable-kvm")
    if not interactive:
        cmd.append("--verbose")  # the boot log, for the watchdog and for the report of a failed boot
    cmd += ["--cpus", str(cpus), "--memory", memory, "--cwd", str(cwd)]
    cmd += [f"--rwdir={d}" for d in [*shared, exchange]]
    if interactive:
        # --exec gives the command pipes, not a terminal; the "shell" of an interactive vng gets the tty.
        return [*cmd, "--shell", str(script_path)]
    return [*cmd, "--exec", f"bash {shlex.quote(str(script_path))}"]


def build_plan(
    argv: Sequence[str],
    *,
    cwd: Path,
    exchange: Path,
    backend: VmBackend,
    interactive: bool = False,
    memory: str = "2G",
    cpus: int = 2,
    env: Mapping[str, str] | None = None,
    writable: Sequence[Path] | None = None,
    host_env: Mapping[str, str] | None = None,
    kernel: Path | None = None,
    vng: Path | None = None,
) -> VmPlan:
    """Decide the host command line and the guest script (no side effects besides reading the host).

    ``kernel`` and ``vng`` are looked up when not given; tests pass them.
    """
    if backend is VmBackend.AUTO:
        raise ValueError("choose a backend first (netlab.vm.choice)")
    if not argv:
        raise VmError("nothing to run in the VM: the command is empty")
    memory_bytes(memory)
    host_env = dict(os.environ if host_env is None else host_env)
    cwd = cwd.resolve()
    shared = [cwd] if writable is None else [Path(d).resolve() for d in writable]
    script_path = exchange / "guest.sh"
    nonce = exchange.name
    script = guest_script(argv, cwd=cwd, env=guest_environment(env, host_env), exchange=exchange, backend=backend,
                          writable=shared, interactive=interactive, nonce=nonce)
    run_env: dict[str, str] = {}
    if backend is VmBackend.UML:
        cmd = _uml_argv(memory, exchange, script_path)
        run_env["TMPDIR"] = str(_uml_tmpdir(memory, exchange))
    else:
        kernel = kernel or find_vng_kernel()
        vng = vng or find_vng(host_env.get("PATH"))
        if kernel is None or vng is None:
            raise VmError("the QEMU backend is not ready:\n  " + "\n  ".join(prerequisites(VmBackend.TCG)))
        cmd = _qemu_argv(backend, vng=vng, kernel=kernel, cpus=cpus, memory=memory, cwd=cwd, shared=shared,
                         exchange=exchange, script_path=script_path, interactive=interactive)
        # vng runs its helpers (virtme-run) from PATH: put its own bin/ first.
        run_env["PATH"] = os.pathsep.join([str(vng.parent), host_env.get("PATH", os.defpath)])
    return VmPlan(backend=backend, argv=tuple(cmd), guest_script=script, script_path=script_path,
                  exchange=exchange, nonce=nonce, host_env=tuple(sorted(run_env.items())))


def describe_plan(plan: VmPlan) -> Iterable[str]:
    """Human-readable lines (for debug output): the command line and the guest script."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in plan.host_env)
    yield f"backend: {plan.backend.value}"
    yield f"command: {env + ' ' if env else ''}{shlex.join(plan.argv)}"
    yield f"guest script {plan.script_path}:"
    yield from ("    " + line for line in plan.guest_script.splitlines())
