"""Run one command inside a full Linux kernel, booted once, and hand back its output and exit code.

Why: a lab may need kernel features the host lacks (IPVS, GRE, IPIP, ipvlan, netem... are all missing from
the development machines' kernel, which cannot load modules). Debian's own kernels have them, so netlab boots
one and runs the whole command -- ``netlab up``, a pytest session -- inside it, seeing the host's files.

Two backends (measured figures and the choice are in docs/vm.md):

``uml``  Debian's ``user-mode-linux``: the kernel is a host program. No QEMU, no KVM, no image. The guest's
         root is the host's ``/`` through hostfs, mounted **read-only**; ``/etc /var /root /home /tmp /opt
         /srv`` get a tmpfs overlay (writable in the guest, the host's files untouched), and only the
         directories in ``writable`` (default: the working directory) plus a private exchange directory are
         mounted read-write. Boots in ≈ 2 s. The default.
``vng``  virtme-ng: QEMU boots the host's ``/boot/vmlinuz-*`` with the host's root over 9p (read-only, with
         overlays). Uses KVM when a trial start of QEMU with KVM succeeds, TCG emulation otherwise (≈ 12 s
         to boot, Python ≈ 8x slower than in UML). Needs ``pip install virtme-ng``.

Both run the same guest script: load the modules netlab labs use (each failure ignored), make ``/run/netns``,
export the host's ``PATH`` (so a venv's ``python`` and ``netlab`` resolve) and ``PYTHONDONTWRITEBYTECODE=1``
(the guest must not litter the host's tree with ``__pycache__``), ``cd`` to the working directory and run the
command with stdin from /dev/null. The command's exit status is written to a file in the exchange directory:
its absence means the guest died (panic, out of memory, killed) and is reported as ``VmError`` instead of
being mistaken for the command's own failure.

Output: stdout and stderr stay separate and reach the caller's ``sys.stdout``/``sys.stderr`` (so pytest's
capture and redirections work). They are read from pipes, never handed to QEMU as files: QEMU's file chardev
reopens ``/proc/self/fd/1`` with ``O_TRUNC``, which truncates a redirected log and, with ``2>&1``, makes the
two streams overwrite each other.
"""

from __future__ import annotations

import enum
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from netlab.errors import VmError
from netlab.kernel.features import _sbin_path, with_sbin

__all__ = [
    "GUEST_MODULES",
    "UML_BINARY",
    "UML_MODULES",
    "VmBackend",
    "VmPlan",
    "build_plan",
    "choose_backend",
    "describe_plan",
    "find_vng",
    "find_vng_kernel",
    "guest_script",
    "kvm_usable",
    "run_in_vm",
    "vm_prerequisites",
]

#: Loaded in the guest before the command, in this order; a module that fails to load is skipped.
GUEST_MODULES: tuple[str, ...] = (
    "veth",
    "bridge",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_sh",
    "ip_vs_dh",
    "ip_gre",
    "ip6_gre",
    "ipip",
    "ipvlan",
    "macvlan",
    "sch_netem",
    "vxlan",
    "geneve",
    "dummy",
    "8021q",
)

UML_BINARY = Path("/usr/bin/linux.uml")
UML_MODULES = Path("/usr/lib/uml/modules")

# Host environment variables carried into the guest (besides PATH, always carried, and the caller's ``env``).
_CARRIED_ENV = (
    "HOME",
    "LANG",
    "LC_ALL",
    "TERM",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "NO_COLOR",
    "FORCE_COLOR",
    "CI",
)
_OVERLAID = ("/etc", "/var", "/root", "/home", "/tmp", "/opt", "/srv")
_EXCHANGE_RC = "rc"
_APT_UML = "apt-get install -y user-mode-linux kmod"
_APT_VNG = "apt-get install -y qemu-system-x86 linux-image-amd64 kmod busybox-static"
_PIP_VNG = "pip install virtme-ng"


class VmBackend(enum.Enum):
    """Which full kernel to boot. AUTO picks UML when installed, else virtme-ng (see docs/vm.md)."""

    AUTO = "auto"
    UML = "uml"
    VNG = "vng"


@dataclass(frozen=True)
class VmPlan:
    """Everything decided before the boot: the host command line and the script the guest runs.

    Pure data, so that unit tests check the command line without booting anything.
    """

    backend: VmBackend
    argv: tuple[str, ...]
    guest_script: str
    script_path: Path
    exchange: Path
    accel: str  # "uml", "kvm" or "tcg"
    host_env: tuple[tuple[str, str], ...]


# ------------------------------------------------------------------------------------------ discovery


def _kernel_version(path: Path) -> str:
    return path.name.removeprefix("vmlinuz-")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def find_vng_kernel(boot: Path = Path("/boot"), modules: Path = Path("/lib/modules")) -> Path | None:
    """The newest ``/boot/vmlinuz-*`` whose modules are installed (the guest loads ip_vs etc. from them)."""
    candidates = [
        k for k in boot.glob("vmlinuz-*") if (modules / _kernel_version(k) / "modules.dep").is_file()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda k: _version_key(_kernel_version(k)))


def find_vng(path_env: str | None = None) -> Path | None:
    """``vng`` on PATH, or next to the running interpreter (a venv's bin/ is often not on PATH)."""
    found = shutil.which("vng", path=path_env)
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / "vng"
    return beside if beside.is_file() else None


def _qemu() -> str | None:
    return shutil.which("qemu-system-x86_64")


def kvm_usable(qemu: str | None = None) -> bool:
    """Whether QEMU can really run a guest with KVM here.

    ``/dev/kvm`` existing is not enough: on the development machines (themselves VMs) it opens, yet QEMU
    aborts at the first vCPU reset ("failed to set MSR 0x10a"). So start QEMU with KVM, paused (``-S``),
    and ask it to quit: the reset happens before the monitor reads ``quit``, so a broken KVM aborts (exit
    134) and a working one exits 0. ≈ 0.1 s.
    """
    qemu = qemu or _qemu()
    if not qemu or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    probe = "-accel kvm -cpu host -m 64 -S -display none -nodefaults -no-reboot -serial none -monitor stdio"
    try:
        proc = subprocess.run(
            [qemu, *probe.split()],
            input=b"quit\n",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _uml_problems() -> list[str]:
    problems = []
    if not UML_BINARY.is_file():
        problems.append(f"user-mode-linux kernel not found ({UML_BINARY}): {_APT_UML}")
    elif not any(UML_MODULES.glob("*/modules.dep")):
        problems.append(f"user-mode-linux modules not found under {UML_MODULES}: {_APT_UML}")
    if not shutil.which("modprobe", path=_sbin_path()):
        problems.append(
            "modprobe not found (the guest loads ip_vs, ip_gre... with it): apt-get install -y kmod"
        )
    return problems


def _vng_problems() -> list[str]:
    problems = []
    if not _qemu():
        problems.append(f"qemu-system-x86_64 not found: {_APT_VNG}")
    if find_vng_kernel() is None:
        problems.append(
            "no kernel image with modules (/boot/vmlinuz-* and /lib/modules/<version>/modules.dep): "
            "apt-get install -y linux-image-amd64"
        )
    if find_vng() is None:
        problems.append(
            f"vng (virtme-ng) not found on PATH nor beside {sys.executable}: {_PIP_VNG} "
            "(into the venv that runs netlab)"
        )
    if not shutil.which("busybox"):
        problems.append(
            "busybox not found (virtme-ng builds its initramfs with it): apt-get install -y busybox-static"
        )
    return problems


def choose_backend(requested: VmBackend = VmBackend.AUTO) -> VmBackend:
    """AUTO -> UML if it is installed, else VNG if it is, else UML (whose problems are then reported)."""
    if requested is not VmBackend.AUTO:
        return requested
    if not _uml_problems():
        return VmBackend.UML
    if not _vng_problems():
        return VmBackend.VNG
    return VmBackend.UML


def vm_prerequisites(backend: VmBackend = VmBackend.AUTO) -> list[str]:
    """What is missing to boot ``backend``; each entry names the piece and the command that installs it.

    For AUTO: nothing when either backend is ready; otherwise the recommended (UML) backend's problems,
    followed by a pointer to the alternative.
    """
    if backend is VmBackend.UML:
        return _uml_problems()
    if backend is VmBackend.VNG:
        return _vng_problems()
    uml = _uml_problems()
    if not uml or not _vng_problems():
        return []
    return [*uml, f"(alternative backend vng: {_APT_VNG} && {_PIP_VNG})"]


# ----------------------------------------------------------------------------------------- the guest


def guest_environment(env: Mapping[str, str] | None, host_env: Mapping[str, str]) -> dict[str, str]:
    """The variables the command sees in the guest: PATH and a few others from the host, then ``env``."""
    out = {k: host_env[k] for k in _CARRIED_ENV if k in host_env}
    out["PATH"] = with_sbin(host_env.get("PATH", os.defpath))
    out["PYTHONDONTWRITEBYTECODE"] = "1"
    out["NETLAB_IN_VM"] = "1"
    out.update(env or {})
    return out


def _uml_prelude(exchange: Path, writable: Sequence[Path], interactive: bool) -> list[str]:
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
    lines += [
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        "mount -t tmpfs -o mode=755 tmpfs /run",
        "mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm",
        "mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null",
        # Modules: Debian ships UML's outside /lib/modules (no clash with the host kernel's), and a machine
        # with no kernel package (a container, a minimal install) has no /lib/modules to bind them onto.
        # So modprobe gets a root of its own under /run, through a wrapper that is first on PATH and is
        # the kernel's own module loader (autoload of ip_gre, sch_netem, ip_vs_wrr, ...).
        "netlab_modprobe=$(PATH=/usr/sbin:/sbin:$PATH command -v modprobe)",
        f"mkdir -p /run/netlab-uml/lib/modules /run/netlab-uml/bin"
        f" && mount --bind {UML_MODULES} /run/netlab-uml/lib/modules",
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


def guest_script(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    exchange: Path,
    backend: VmBackend,
    writable: Sequence[Path] = (),
    interactive: bool = False,
) -> str:
    """The bash script the guest runs: PID 1 in UML, ``vng --exec`` in virtme-ng."""
    lines = ["#!/bin/bash", "# Written by netlab.vm.runner; runs inside the guest kernel.", "set +e"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
    if backend is VmBackend.UML:
        lines += _uml_prelude(exchange, writable, interactive)
    lines += [
        # One modprobe process (≈ 5x faster than one per module); -a goes on past a module that fails.
        f"modprobe -a -q {' '.join(GUEST_MODULES)} 2>/dev/null",
        "mkdir -p /run/netns",
    ]
    command = shlex.join(argv)
    rc_file = shlex.quote(str(exchange / _EXCHANGE_RC))
    run: list[str] = []
    if interactive and backend is VmBackend.UML:
        # A controlling terminal, so that ^C and job control reach the command.
        run += [f"setsid -c {command} </dev/console >/dev/console 2>&1", "netlab_rc=$?"]
    elif interactive:
        run += [command, "netlab_rc=$?"]
    elif backend is VmBackend.UML:
        # The consoles are terminals: handed to the command directly, it would believe it writes to a tty
        # (colours, progress bars, line buffering). Give it pipes and copy them to the consoles instead.
        run += [
            "mkfifo /run/netlab-stdout /run/netlab-stderr",
            "cat /run/netlab-stdout & netlab_out=$!",
            "cat /run/netlab-stderr >&2 & netlab_err=$!",
            f"{command} </dev/null >/run/netlab-stdout 2>/run/netlab-stderr",
            "netlab_rc=$?",
            # Daemons the command left running may hold the pipes open: 2 s to drain, then stop copying.
            "(sleep 2; kill $netlab_out $netlab_err) 2>/dev/null &",
            "wait $netlab_out $netlab_err 2>/dev/null",
        ]
    else:
        run += [f"{command} </dev/null", "netlab_rc=$?"]
    # A cwd the guest cannot enter is the command's failure (126, as for a command that cannot run),
    # not a dead VM.
    quoted_cwd = shlex.quote(str(cwd))
    lines += [f"if cd {quoted_cwd}; then", *("  " + line for line in run), "else"]
    message = shlex.quote(f"netlab vm: cannot cd to {cwd} in the guest")
    lines += [f"  echo {message} >&2", "  netlab_rc=126", "fi"]
    lines += [f"echo $netlab_rc > {rc_file}", "sync"]
    if backend is VmBackend.UML:
        # poweroff -f (systemctl) may be absent in a minimal root; sysrq 'o' always powers UML off.
        lines.append("poweroff -f >/dev/null 2>&1 || echo o > /proc/sysrq-trigger")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- planning


def _memory_bytes(memory: str) -> int:
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", memory.strip().upper())
    if not match:
        raise VmError(f"memory size {memory!r} not understood (use e.g. 512M or 2G)")
    power = "_KMGT".index(match.group(2) or "_")
    return int(match.group(1)) * (1 << (10 * power))


def _uml_tmpdir(memory: str, exchange: Path) -> Path:
    """UML backs guest RAM with a file in $TMPDIR or /dev/shm; a small /dev/shm (Docker: 64 MiB) SIGBUSes."""
    try:
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize >= _memory_bytes(memory):
            return Path("/dev/shm")
    except OSError:
        pass
    return exchange


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
    accel: str | None = None,
    kernel: Path | None = None,
    vng: Path | None = None,
) -> VmPlan:
    """Decide the host command line and the guest script (no side effects besides reading the host).

    ``accel`` ("kvm"/"tcg") and ``kernel``/``vng`` are looked up when not given; tests pass them.
    """
    if backend is VmBackend.AUTO:
        raise ValueError("resolve AUTO with choose_backend() first")
    if not argv:
        raise VmError("nothing to run in the VM: the command is empty")
    _memory_bytes(memory)
    host_env = dict(os.environ if host_env is None else host_env)
    cwd = cwd.resolve()
    shared = [cwd] if writable is None else [Path(d).resolve() for d in writable]
    guest_env = guest_environment(env, host_env)
    script_path = exchange / "guest.sh"
    script = guest_script(
        argv,
        cwd=cwd,
        env=guest_env,
        exchange=exchange,
        backend=backend,
        writable=shared,
        interactive=interactive,
    )
    run_env: dict[str, str] = {}
    if backend is VmBackend.UML:
        cmd = [
            str(UML_BINARY),
            f"mem={memory}",
            "rootfstype=hostfs",
            "rootflags=/",
            "ro",
            f"init={script_path}",
            "quiet",
            "loglevel=0",
            "con=null",
            "con0=fd:0,fd:1",
            "con1=null,fd:2",
            "ssl=null",
            f"uml_dir={exchange / 'uml'}",
            f"umid={exchange.name}",
        ]
        run_env["TMPDIR"] = str(_uml_tmpdir(memory, exchange))
        accel = "uml"
    else:
        kernel = kernel or find_vng_kernel()
        vng = vng or find_vng(host_env.get("PATH"))
        if kernel is None or vng is None:
            raise VmError("virtme-ng backend not ready:\n  " + "\n  ".join(_vng_problems()))
        if accel is None:
            accel = "kvm" if kvm_usable() else "tcg"
        cmd = [str(vng), "--run", str(kernel)]
        if accel != "kvm":
            cmd.append("--disable-kvm")
        cmd += ["--cpus", str(cpus), "--memory", memory, "--cwd", str(cwd)]
        for d in [*shared, exchange]:
            cmd.append(f"--rwdir={d}")
        if interactive:
            # --exec gives the command pipes, not a terminal; the "shell" of an interactive vng gets the tty.
            cmd += ["--shell", str(script_path)]
        else:
            cmd += ["--exec", f"bash {shlex.quote(str(script_path))}"]
        # vng runs its helpers (virtme-run) from PATH: put its own bin/ first.
        run_env["PATH"] = os.pathsep.join([str(vng.parent), host_env.get("PATH", os.defpath)])
    return VmPlan(
        backend=backend,
        argv=tuple(cmd),
        guest_script=script,
        script_path=script_path,
        exchange=exchange,
        accel=accel,
        host_env=tuple(sorted(run_env.items())),
    )


# -------------------------------------------------------------------------------------------- running


def _sink(stream: IO[str]) -> Callable[[bytes], None]:
    """Write raw bytes to a text stream, through its binary buffer when it has one (pytest's capture has)."""
    buffer = getattr(stream, "buffer", None)

    def write(data: bytes) -> None:
        if buffer is not None:
            stream.flush()
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode(errors="replace"))
            stream.flush()

    return write


def _pump(proc: subprocess.Popen[bytes], deadline: float | None) -> bool:
    """Copy the child's stdout/stderr to ours until both close. False if the deadline passed first."""
    selector = selectors.DefaultSelector()
    sinks = {}
    for pipe, stream in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
        if pipe is not None:
            selector.register(pipe, selectors.EVENT_READ)
            sinks[pipe.fileno()] = _sink(stream)
    try:
        while selector.get_map():
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if timeout == 0.0:
                return False
            for key, _ in selector.select(timeout):
                data = os.read(key.fd, 65536)
                if data:
                    sinks[key.fd](data)
                else:
                    selector.unregister(key.fileobj)
    finally:
        selector.close()
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the VM we started: UML is many host processes, one process group (we made it a session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_in_vm(
    argv: list[str],
    *,
    cwd: Path,
    interactive: bool = False,
    memory: str = "2G",
    cpus: int = 2,
    env: dict[str, str] | None = None,
    backend: VmBackend = VmBackend.AUTO,
    writable: Sequence[Path] | None = None,
    timeout: float | None = None,
) -> int:
    """Boot a full kernel, run ``argv`` in ``cwd`` inside it, stream its output, return its exit code.

    ``writable``: host directories the guest may modify (default: ``cwd`` only; ``()`` for none). Everything
    else of the host is visible read-only. ``cpus`` is ignored by UML (a uniprocessor kernel).
    Raises ``VmError`` when a backend piece is missing, the VM cannot start, times out, or dies before the
    command finished.
    """
    chosen = choose_backend(backend)
    problems = vm_prerequisites(chosen)
    if problems:
        raise VmError(f"cannot start the {chosen.value} VM:\n  " + "\n  ".join(problems))
    if not cwd.is_dir():
        raise VmError(f"working directory {cwd} does not exist")
    exchange = Path(tempfile.mkdtemp(prefix="netlab-vm-"))
    try:
        plan = build_plan(
            argv,
            cwd=cwd,
            exchange=exchange,
            backend=chosen,
            interactive=interactive,
            memory=memory,
            cpus=cpus,
            env=env,
            writable=writable,
        )
        plan.script_path.write_text(plan.guest_script)
        plan.script_path.chmod(0o755)
        return _launch(plan, interactive, timeout)
    finally:
        shutil.rmtree(exchange, ignore_errors=True)


def _launch(plan: VmPlan, interactive: bool, timeout: float | None) -> int:
    run_env = {**os.environ, **dict(plan.host_env)}
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        if interactive:
            # The terminal is the guest's console: hand it over untouched (it needs a tty, not pipes).
            proc = subprocess.Popen(list(plan.argv), env=run_env)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise VmError(f"the VM did not finish within {timeout:.0f} s") from None
        else:
            proc = subprocess.Popen(
                list(plan.argv),
                env=run_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            try:
                finished = _pump(proc, deadline)
            except BaseException:
                _kill_group(proc)
                raise
            if not finished:
                _kill_group(proc)
                raise VmError(f"the VM did not finish within {timeout:.0f} s")
            proc.wait()
    except FileNotFoundError as exc:
        raise VmError(f"cannot start the VM: {exc}") from exc
    return _read_rc(plan, proc.returncode)


def _read_rc(plan: VmPlan, vm_status: int) -> int:
    rc_path = plan.exchange / _EXCHANGE_RC
    try:
        text = rc_path.read_text().strip()
    except OSError:
        text = ""
    if not text.isdigit():
        raise VmError(
            f"the {plan.backend.value} VM stopped (status {vm_status}) before the command reported an exit "
            "status: the guest kernel panicked, ran out of memory, or failed to boot"
        )
    return int(text)


def describe_plan(plan: VmPlan) -> Iterable[str]:
    """Human-readable lines (for ``--dry-run`` or debug output): the command line and the guest script."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in plan.host_env)
    yield f"backend: {plan.backend.value} ({plan.accel})"
    yield f"command: {env + ' ' if env else ''}{shlex.join(plan.argv)}"
    yield f"guest script {plan.script_path}:"
    yield from ("    " + line for line in plan.guest_script.splitlines())
