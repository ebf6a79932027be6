"""The full kernels netlab can boot, what each needs installed, and how long each may take to boot.

Three backends, tried in this order by ``auto`` (docs/vm.md has the measurements):

``uml``  Debian's ``user-mode-linux``: the kernel is a host program, boots in ≈ 3 s, runs Python ≈ 4-12x
         faster than emulation. But it **panics at its first user process on Intel CPUs with AMX**
         (``userspace - ptrace set fp regs failed, errno = 14``: the host's XSAVE area, AMX tiles
         included, is larger than the buffer Debian's 6.1 UML hands to ``PTRACE_SETREGSET``, and the host
         kernel answers EFAULT). Our machines are not all the same CPU, so whether UML works is found out
         by booting it, never by what is installed.
``kvm``  QEMU with KVM through virtme-ng: near-native speed where KVM can run a stock guest. ``/dev/kvm``
         opening is not enough: on our machines it is kvm-pvm, which opens, starts QEMU, and then hangs a
         stock kernel forever after "Probing EDD". Only a boot tells.
``tcg``  QEMU with TCG (software emulation) through virtme-ng: ≈ 12-15 s to boot here, Python 8-15x slower
         than the host, but it boots on every x86-64 machine. The last resort, always there.

Every boot runs under a watchdog (:mod:`netlab.vm.launch`): the guest must reach netlab's guest script
within ``boot_deadline`` seconds and may not go ``silence`` seconds without printing while it boots. The
limits are per backend because the backends differ by an order of magnitude: a KVM guest that has printed
nothing for 20 s is hung, a TCG guest on a busy machine may legitimately be quiet that long.
"""

from __future__ import annotations

import enum
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.kernel.tools import sbin_path

__all__ = [
    "BACKENDS",
    "UML_BINARY",
    "UML_MODULES",
    "VNG_VERSION",
    "Backend",
    "VmBackend",
    "find_vng",
    "find_vng_kernel",
    "kvm_opens",
    "prerequisites",
    "qemu_binary",
]

UML_BINARY = Path("/usr/bin/linux.uml")
UML_MODULES = Path("/usr/lib/uml/modules")
VNG_VERSION = "1.42"
"""The virtme-ng release netlab is tested with (scripts/install-vm-deps pins it): its command line and its
guest init change between releases."""

_APT_UML = "apt-get install -y user-mode-linux kmod"
_APT_QEMU = "apt-get install -y qemu-system-x86 linux-image-amd64 kmod busybox-static file binutils"
_PIP_VNG = f"pip install virtme-ng=={VNG_VERSION}"


class VmBackend(enum.Enum):
    """Which full kernel to boot; AUTO tries UML, then KVM, then TCG, and keeps the first that boots."""

    AUTO = "auto"
    UML = "uml"
    KVM = "kvm"
    TCG = "tcg"


@frozen
class Backend:
    """One way to boot a full kernel, with the watchdog limits of its boot."""

    kind: VmBackend
    title: str
    boot_deadline: float
    """Seconds from start until the guest script runs; past it the boot is declared hung."""
    silence: float
    """Seconds the booting guest may print nothing before it is declared hung."""

    @property
    def name(self) -> str:
        return self.kind.value


BACKENDS: tuple[Backend, ...] = (
    # UML prints its whole boot within 1-3 s; 30 s of nothing is a hang even on a loaded machine.
    Backend(VmBackend.UML, "user-mode-linux", boot_deadline=60.0, silence=30.0),
    # A working KVM boots a stock kernel in < 5 s; kvm-pvm stops after "Probing EDD" and never prints again.
    Backend(VmBackend.KVM, "QEMU with KVM (virtme-ng)", boot_deadline=60.0, silence=20.0),
    # TCG: ≈ 12 s here with the console printing every few hundred ms; udev settling is its longest pause
    # (≈ 4 s). Generous limits: this is the backend that must work on a loaded CI machine.
    Backend(VmBackend.TCG, "QEMU with TCG emulation (virtme-ng)", boot_deadline=600.0, silence=120.0),
)


def backend(kind: VmBackend) -> Backend:
    """The :class:`Backend` of ``kind`` (not AUTO)."""
    for b in BACKENDS:
        if b.kind is kind:
            return b
    raise ValueError(f"no backend {kind.value!r}: AUTO is a choice among backends, not one")


# ------------------------------------------------------------------------------------------ discovery


def _kernel_version(path: Path) -> str:
    return path.name.removeprefix("vmlinuz-")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def find_vng_kernel(boot: Path = Path("/boot"), modules: Path = Path("/lib/modules")) -> Path | None:
    """The newest ``/boot/vmlinuz-*`` whose modules are installed (the guest loads ip_vs etc. from them)."""
    candidates = [k for k in boot.glob("vmlinuz-*") if (modules / _kernel_version(k) / "modules.dep").is_file()]
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


def qemu_binary() -> str | None:
    return shutil.which("qemu-system-x86_64")


def kvm_opens(qemu: str | None = None) -> bool:
    """A quick first filter (≈ 0.1 s): can QEMU start with KVM at all?

    It starts QEMU with KVM, paused (``-S``), and asks it to quit. Some broken KVMs abort at the first
    vCPU reset ("failed to set MSR 0x10a", exit 134) and are ruled out here without a boot. A yes
    proves little: kvm-pvm passes this and then hangs a real guest, which only the boot watchdog catches.
    """
    qemu = qemu or qemu_binary()
    if not qemu or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    probe = "-accel kvm -cpu host -m 64 -S -display none -nodefaults -no-reboot -serial none -monitor stdio"
    try:
        proc = subprocess.run([qemu, *probe.split()], input=b"quit\n", stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _uml_problems() -> list[str]:
    problems = []
    if not UML_BINARY.is_file():
        problems.append(f"user-mode-linux kernel not found ({UML_BINARY}): {_APT_UML}")
    elif not any(UML_MODULES.glob("*/modules.dep")):
        problems.append(f"user-mode-linux modules not found under {UML_MODULES}: {_APT_UML}")
    if not shutil.which("modprobe", path=sbin_path()):
        problems.append("modprobe not found (the guest loads ip_vs, ip_gre... with it): apt-get install -y kmod")
    return problems


def _qemu_problems() -> list[str]:
    problems = []
    if not qemu_binary():
        problems.append(f"qemu-system-x86_64 not found: {_APT_QEMU}")
    if find_vng_kernel() is None:
        problems.append("no kernel image with modules (/boot/vmlinuz-* and /lib/modules/<version>/modules.dep): "
                        "apt-get install -y linux-image-amd64")
    if find_vng() is None:
        problems.append(f"vng (virtme-ng) not found on PATH nor beside {sys.executable}: {_PIP_VNG} "
                        "(into the venv that runs netlab)")
    # virtme-ng builds its initramfs with busybox and inspects the kernel image with `file` and `strings`;
    # without them it fails in ways that look like a broken guest kernel.
    for tool, package in (("busybox", "busybox-static"), ("file", "file"), ("strings", "binutils")):
        if not shutil.which(tool, path=sbin_path()):
            problems.append(f"{tool} not found (virtme-ng needs it to boot a kernel): apt-get install -y {package}")
    return problems


def prerequisites(kind: VmBackend) -> list[str]:
    """What is missing to boot ``kind``; each entry names the piece and the command that installs it.

    For KVM, also whether ``/dev/kvm`` is there to be used at all (whether it works is the boot's to say).
    """
    if kind is VmBackend.UML:
        return _uml_problems()
    if kind is VmBackend.AUTO:
        raise ValueError("prerequisites of AUTO: ask each backend")
    problems = _qemu_problems()
    if kind is VmBackend.KVM and not problems and not kvm_opens():
        problems.append("KVM is not usable here (/dev/kvm missing, not accessible, or QEMU cannot start a vCPU "
                        "with it)")
    return problems
