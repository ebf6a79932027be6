"""Run one command inside a full Linux kernel, booted once, and hand back its output and exit code.

Why: a lab may need kernel features the host lacks (IPVS, GRE, IPIP, ipvlan, netem... are all missing from
the development machines' kernel, which cannot load modules). Debian's own kernels have them, so netlab boots
one and runs the whole command -- ``netlab up ...``, a pytest session -- inside it, seeing the host's files.

Which kernel (netlab.vm.backends): ``auto`` tries user-mode-linux, then QEMU with KVM, then QEMU with TCG,
skipping what is not installed and what already failed to boot during this boot of the host
(netlab.vm.choice). Each attempt runs under the boot watchdog (netlab.vm.launch). A backend that does not
boot is reported in one line -- with the guest kernel's own last words -- and the next one is tried; the
command itself starts only once a guest has booted, so it never runs twice. A forced backend
(``backend=VmBackend.TCG``) gets no fallback: its failure is the answer.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from netlab.core.frozen import frozen
from netlab.errors import VmBootError, VmError
from netlab.vm import backends
from netlab.vm.backends import Backend, VmBackend
from netlab.vm.choice import BootCache, BootRecord
from netlab.vm.launch import Launched, launch, launch_interactive
from netlab.vm.plan import VmPlan, build_plan

__all__ = ["BackendReport", "check_backends", "run_in_vm", "vm_prerequisites"]

Notify = Callable[[str], None]


def _stderr(line: str) -> None:
    sys.stderr.write(f"netlab vm: {line}\n")
    sys.stderr.flush()


@frozen
class BackendReport:
    """One backend as ``doctor`` shows it: installed?, boots here?, how long, and why not."""

    backend: str
    title: str
    installed: bool
    boots: bool | None
    """None: installed but not tried (check=False and no record of this host boot)."""
    seconds: float | None
    detail: str


#: Boot failures seen on our machines, recognised by the guest's words, and what they mean.
KNOWN_CAUSES = (
    ("ptrace set fp regs failed", "Debian's user-mode-linux 6.1 cannot run on Intel CPUs with AMX (the host's "
     "XSAVE area outgrows UML's buffer); another backend is used"),
    ("Probing EDD", "the guest hung right after the boot loader: typically a /dev/kvm that opens but cannot run "
     "a stock guest (kvm-pvm)"),
)


def known_cause(tail: Sequence[str]) -> str:
    """`` (why: ...)`` when the guest's last lines match a failure we know, else ''."""
    text = "\n".join(tail)
    return "".join(f" (known: {meaning})" for pattern, meaning in KNOWN_CAUSES if pattern in text)


def vm_prerequisites(backend: VmBackend = VmBackend.AUTO) -> list[str]:
    """What is missing to boot ``backend``; for AUTO, nothing when any backend is installed."""
    if backend is not VmBackend.AUTO:
        return backends.prerequisites(backend)
    every = {b.name: backends.prerequisites(b.kind) for b in backends.BACKENDS}
    if any(not p for p in every.values()):
        return []
    return [f"{name}: {p}" for name, problems in every.items() for p in problems]


def _candidates(requested: VmBackend) -> list[Backend]:
    if requested is VmBackend.AUTO:
        return list(backends.BACKENDS)
    return [backends.backend(requested)]


def _boot_once(backend: Backend, argv: Sequence[str], cwd: Path, memory: str, cpus: int,
               env: dict[str, str] | None, writable: Sequence[Path] | None, timeout: float | None,
               quiet: bool) -> Launched:
    """One attempt: plan, launch under the watchdog (VmBootError if it did not boot)."""
    exchange = Path(tempfile.mkdtemp(prefix="netlab-vm-"))
    try:
        plan = build_plan(argv, cwd=cwd, exchange=exchange, backend=backend.kind, memory=memory, cpus=cpus,
                          env=env, writable=writable)
        _write_script(plan)
        return launch(plan, backend, timeout=timeout, quiet=quiet)
    finally:
        shutil.rmtree(exchange, ignore_errors=True)


def _write_script(plan: VmPlan) -> None:
    plan.script_path.write_text(plan.guest_script)
    plan.script_path.chmod(0o755)


def _attempt(backend: Backend, cache: BootCache, run: Callable[[], Launched]) -> int:
    """Run ``run`` (one boot of ``backend``), recording whether the guest booted and how long it took."""
    start = time.monotonic()
    try:
        launched = run()
    except VmBootError as exc:
        cache.put(backend.kind, False, time.monotonic() - start, exc.reason, exc.tail)
        raise
    # (a VmError here means the guest booted, then died or timed out: not the backend's boot to blame)
    if launched.boot_seconds >= 0:
        cache.put(backend.kind, True, launched.boot_seconds, "booted")
    return launched.rc


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
    notify: Notify = _stderr,
    cache: BootCache | None = None,
) -> int:
    """Boot a full kernel, run ``argv`` in ``cwd`` inside it, stream its output, return its exit code.

    ``writable``: host directories the guest may modify (default: ``cwd`` only; ``()`` for none). Everything
    else of the host is visible read-only. ``cpus`` is ignored by UML (a uniprocessor kernel). ``notify``
    hears about each backend skipped or failed (default: a line on stderr).
    Raises ``VmError`` when no backend is installed or boots, the timeout runs out, or the guest dies
    before the command finished; ``VmBootError`` (a ``VmError``) when a forced backend did not boot.
    """
    if not cwd.is_dir():
        raise VmError(f"working directory {cwd} does not exist")
    cache = cache or BootCache()
    forced = backend is not VmBackend.AUTO
    why_not: list[str] = []
    for candidate in _candidates(backend):
        problems = backends.prerequisites(candidate.kind)
        if problems:
            if forced:
                raise VmError(f"cannot start the {candidate.name} VM:\n  " + "\n  ".join(problems))
            why_not.append(f"{candidate.name}: not installed ({problems[0]})")
            continue
        record = cache.get(candidate.kind)
        if record is not None and not record.boots and not forced:
            why_not.append(f"{candidate.name}: did not boot earlier during this boot of the host ({record.reason})")
            continue
        if interactive and (record is None or not record.boots):
            # the terminal goes to the guest, so the watchdog cannot watch this boot: prove the backend first
            checked = check_backend(candidate, cache)
            if not checked.boots:
                if forced:
                    raise VmBootError(candidate.name, checked.reason, checked.tail)
                notify(f"the {candidate.name} VM did not boot here: {checked.reason}; trying the next backend")
                why_not.append(f"{candidate.name}: {checked.reason}")
                continue
        def run(c: Backend = candidate) -> Launched:
            if interactive:  # the boot cannot be timed through a terminal: no record is written
                return Launched(_interactive_once(c, argv, cwd, memory, cpus, env, writable, timeout), -1.0)
            return _boot_once(c, argv, cwd, memory, cpus, env, writable, timeout, quiet=False)

        try:
            return _attempt(candidate, cache, run)
        except VmBootError as exc:
            if forced:
                raise VmBootError(exc.backend, exc.reason + "\n    hint: `netlab vm --backend tcg ...` (QEMU "
                                  "emulation) boots everywhere; `netlab doctor` shows which backends boot here",
                                  exc.tail) from None
            notify(f"the {candidate.name} VM did not boot here: {exc.reason}{known_cause(exc.tail)}"
                   + "".join(f"\n    | {line}" for line in exc.tail[-4:]) + "\n    trying the next backend")
            why_not.append(f"{candidate.name}: {exc.reason}")
    raise VmError("no full-kernel VM backend boots on this machine:\n  " + "\n  ".join(why_not)
                  + "\n    hint: scripts/install-vm-deps --backend all installs every backend")


def _interactive_once(backend: Backend, argv: Sequence[str], cwd: Path, memory: str, cpus: int,
                      env: dict[str, str] | None, writable: Sequence[Path] | None, timeout: float | None) -> int:
    exchange = Path(tempfile.mkdtemp(prefix="netlab-vm-"))
    try:
        plan = build_plan(argv, cwd=cwd, exchange=exchange, backend=backend.kind, interactive=True, memory=memory,
                          cpus=cpus, env=env, writable=writable)
        _write_script(plan)
        return launch_interactive(plan, timeout)
    finally:
        shutil.rmtree(exchange, ignore_errors=True)


def check_backend(candidate: Backend, cache: BootCache) -> BootRecord:
    """Boot ``candidate`` once with ``true`` (output discarded) and record whether it booted."""
    start = time.monotonic()
    try:
        launched = _boot_once(candidate, ["true"], Path("/"), "512M", 1, None, (), candidate.boot_deadline + 60,
                              quiet=True)
    except VmBootError as exc:
        return cache.put(candidate.kind, False, time.monotonic() - start, exc.reason, exc.tail)
    except VmError as exc:
        return cache.put(candidate.kind, False, time.monotonic() - start, str(exc))
    return cache.put(candidate.kind, True, launched.boot_seconds, "booted")


def check_backends(boot: bool = True, fresh: bool = False, cache: BootCache | None = None,
                   progress: Notify | None = None) -> list[BackendReport]:
    """Every backend: installed?, and (``boot``) does a guest really boot here, and how fast?

    Records of this host boot are reused unless ``fresh``. A boot check costs ≈ 1-3 s (UML), up to the
    watchdog's limit for a hanging KVM (≈ 25 s), ≈ 15 s for TCG.
    """
    cache = cache or BootCache()
    out = []
    for candidate in backends.BACKENDS:
        problems = backends.prerequisites(candidate.kind)
        if problems:
            out.append(BackendReport(candidate.name, candidate.title, False, None, None, "; ".join(problems)))
            continue
        record = None if fresh else cache.get(candidate.kind)
        if record is None and boot:
            if progress:
                progress(f"booting {candidate.name} ({candidate.title}) to see whether it works here ...")
            record = check_backend(candidate, cache)
        if record is None:
            out.append(BackendReport(candidate.name, candidate.title, True, None, None, "not tried yet"))
            continue
        detail = record.reason if not record.tail else f"{record.reason}; it said: {' / '.join(record.tail[-2:])}"
        detail += known_cause(record.tail)
        out.append(BackendReport(candidate.name, candidate.title, True, record.boots, record.seconds,
                                 "booted" if record.boots else detail))
    return out
