"""The VM runner's decisions without booting a kernel: command lines, guest scripts, prerequisites, the
boot watchdog and the fallback between backends (fake backends: ordinary processes that print like a
guest that boots, panics or hangs)."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from netlab.core.catalog import vm_modules
from netlab.errors import VmBootError, VmError
from netlab.vm import backends, runner
from netlab.vm.backends import Backend, VmBackend
from netlab.vm.choice import BootCache
from netlab.vm.guest import end_marker, guest_environment, guest_script, marker
from netlab.vm.launch import digest, launch
from netlab.vm.plan import VmPlan, build_plan, memory_bytes

HOST_ENV = {"PATH": "/opt/venv/bin:/usr/bin:/bin", "HOME": "/root", "SECRET_TOKEN": "x"}


def uml_plan(tmp_path: Path, **overrides: object) -> VmPlan:
    cwd = tmp_path / "proj"
    cwd.mkdir(exist_ok=True)
    exchange = tmp_path / "xchg"
    exchange.mkdir(exist_ok=True)
    args: dict[str, object] = {"cwd": cwd, "exchange": exchange, "backend": VmBackend.UML, "memory": "1G",
                               "host_env": HOST_ENV}
    args.update(overrides)
    return build_plan(["pytest", "-k", "it's a test"], **args)  # type: ignore[arg-type]


def qemu_plan(tmp_path: Path, backend: VmBackend = VmBackend.TCG, interactive: bool = False) -> VmPlan:
    cwd = tmp_path / "proj"
    cwd.mkdir(exist_ok=True)
    return build_plan(["netlab", "up", "ipvs"], cwd=cwd, exchange=tmp_path, backend=backend, cpus=3, memory="3G",
                      host_env=HOST_ENV, kernel=Path("/boot/vmlinuz-6.1.0-9-amd64"), vng=Path("/venv/bin/vng"),
                      interactive=interactive)


# ------------------------------------------------------------------------------------ command lines, scripts

def test_uml_command_line_keeps_the_host_read_only_and_the_boot_log_visible(tmp_path: Path) -> None:
    plan = uml_plan(tmp_path)
    argv = list(plan.argv)
    assert argv[0] == str(backends.UML_BINARY)
    for expected in ("mem=1G", "rootfstype=hostfs", "rootflags=/", "ro", "con0=fd:0,fd:1", "con1=null,fd:2"):
        assert expected in argv
    assert "rw" not in argv, "the host's root must be read-only in the guest"
    assert not any(a.startswith("loglevel") or a == "quiet" for a in argv), "a panic's text must reach the host"
    assert f"init={tmp_path / 'xchg' / 'guest.sh'}" in argv
    assert dict(plan.host_env)["TMPDIR"]


def test_uml_guest_script_announces_the_boot_before_anything_slow(tmp_path: Path) -> None:
    plan = uml_plan(tmp_path)
    lines = plan.guest_script.splitlines()
    assert lines[0] == "#!/bin/bash"
    up = f"echo {shlex.quote(marker(plan.nonce).decode())}"
    assert up in lines and f"{up} >&2" in lines
    assert lines.index("mount -t proc proc /proc") < lines.index("echo 1 > /proc/sys/kernel/printk 2>/dev/null") \
        < lines.index(up) < lines.index("mount -t sysfs sysfs /sys")
    assert f"modprobe -a -q {' '.join(vm_modules())} 2>/dev/null" in lines
    assert "export PATH=/opt/venv/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" in lines
    assert not any("SECRET_TOKEN" in line for line in lines), "only known variables are carried"
    assert "  pytest -k 'it'\"'\"'s a test' </dev/null >/run/netlab-stdout 2>/run/netlab-stderr" in lines
    assert f"mount -t hostfs -o {tmp_path / 'proj'} none {tmp_path / 'proj'}" in lines
    assert lines.index("exec 1>/dev/console 2>/dev/tty1") < lines.index("mount -t proc proc /proc")
    assert lines[-1].startswith("poweroff -f")


def test_the_vm_loads_every_scheduler_the_ipvs_model_accepts() -> None:
    modules = vm_modules()
    for sched in ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"):
        assert f"ip_vs_{sched}" in modules
    for module in ("ip_gre", "ipip", "ipvlan", "sch_netem", "dummy", "8021q"):
        assert module in modules


def test_writable_dirs(tmp_path: Path) -> None:
    assert f"none {tmp_path / 'proj'}" not in uml_plan(tmp_path, writable=()).guest_script
    extra = tmp_path / "results"
    extra.mkdir()
    two = uml_plan(tmp_path, writable=[tmp_path / "proj", extra]).guest_script
    assert f"mount -t hostfs -o {extra} none {extra}" in two


def test_env_is_exported_quoted(tmp_path: Path) -> None:
    script = uml_plan(tmp_path, env={"LAB": "a b", "PATH": "/only"}).guest_script
    assert "export LAB='a b'" in script.splitlines()
    assert "export PATH=/only" in script.splitlines(), "an explicit env wins over the host's PATH"


def test_qemu_command_lines(tmp_path: Path) -> None:
    tcg = list(qemu_plan(tmp_path).argv)
    assert tcg[:4] == ["/venv/bin/vng", "--run", "/boot/vmlinuz-6.1.0-9-amd64", "--force-9p"]
    assert "--disable-kvm" in tcg and "--verbose" in tcg
    assert tcg[tcg.index("--cpus") + 1] == "3" and tcg[tcg.index("--memory") + 1] == "3G"
    assert f"--rwdir={tmp_path / 'proj'}" in tcg and f"--rwdir={tmp_path}" in tcg
    assert tcg[-2:] == ["--exec", f"bash {shlex.quote(str(tmp_path / 'guest.sh'))}"]
    assert "--disable-kvm" not in qemu_plan(tmp_path, VmBackend.KVM).argv
    shell = list(qemu_plan(tmp_path, interactive=True).argv)
    assert "--exec" not in shell and shell[shell.index("--shell") + 1] == str(tmp_path / "guest.sh")
    assert "mount -t hostfs" not in qemu_plan(tmp_path).guest_script


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="empty"):
        build_plan([], cwd=tmp_path, exchange=tmp_path, backend=VmBackend.UML)
    with pytest.raises(VmError, match="memory"):
        uml_plan(tmp_path, memory="lots")
    with pytest.raises(ValueError):
        uml_plan(tmp_path, backend=VmBackend.AUTO)
    assert memory_bytes("2G") == 2 << 30 and memory_bytes("512M") == 512 << 20 and memory_bytes("1024") == 1024


def test_prerequisites_name_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backends, "UML_BINARY", tmp_path / "linux.uml")
    assert any("apt-get install -y user-mode-linux" in p for p in backends.prerequisites(VmBackend.UML))
    monkeypatch.setattr(backends, "qemu_binary", lambda: None)
    monkeypatch.setattr(backends, "find_vng", lambda path_env=None: None)
    monkeypatch.setattr(backends, "find_vng_kernel", lambda: None)
    monkeypatch.setattr(backends.shutil, "which", lambda tool, path=None: None)
    qemu = backends.prerequisites(VmBackend.TCG)
    for fix in ("qemu-system-x86", "pip install virtme-ng==", "linux-image-amd64", "busybox-static",
                "install -y file", "binutils"):
        assert any(fix in p for p in qemu), fix
    assert runner.vm_prerequisites(VmBackend.AUTO), "nothing installed: AUTO has problems too"


def test_kernel_choice(tmp_path: Path) -> None:
    boot, mods = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    for version in ("6.1.0-9-amd64", "6.10.2-amd64", "6.2.0-1-amd64"):
        (boot / f"vmlinuz-{version}").touch()
    for version in ("6.1.0-9-amd64", "6.2.0-1-amd64"):  # 6.10.2 has no modules: unusable
        (mods / version).mkdir(parents=True)
        (mods / version / "modules.dep").touch()
    assert backends.find_vng_kernel(boot, mods) == boot / "vmlinuz-6.2.0-1-amd64"
    assert backends.find_vng_kernel(tmp_path / "none", mods) is None


def test_guest_script_runs_under_bash(tmp_path: Path) -> None:
    """The script itself (QEMU flavour) with a stub modprobe: markers, exit code, cwd, env."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "modprobe").write_text("#!/bin/sh\necho modprobe \"$@\" >> \"$MODLOG\"\n")
    (stubs / "modprobe").chmod(0o755)
    cwd = tmp_path / "proj"
    cwd.mkdir()
    script = guest_script(
        ["sh", "-c", 'pwd; echo "$LAB $PYTHONDONTWRITEBYTECODE"; exit 7'], cwd=cwd,
        env=guest_environment({"LAB": "x y", "MODLOG": str(tmp_path / "mods")}, {"PATH": f"{stubs}:/usr/bin:/bin"}),
        exchange=tmp_path, backend=VmBackend.TCG, nonce="n0",
    ).replace("mkdir -p /run/netns", ":").replace("/proc/sys/kernel/printk", "/dev/null")  # not the host's
    (tmp_path / "guest.sh").write_text(script)
    proc = subprocess.run(["bash", str(tmp_path / "guest.sh")], capture_output=True, text=True, check=False)
    up, done = marker("n0").decode(), end_marker("n0").decode()
    assert proc.stdout.splitlines() == [up, str(cwd), "x y 1", done]
    assert proc.stderr.splitlines() == [up, done]
    assert (tmp_path / "rc").read_text().strip() == "7"
    assert (tmp_path / "mods").read_text().split() == ["modprobe", "-a", "-q", *vm_modules()]


def test_a_missing_cwd_is_exit_126_not_a_dead_vm(tmp_path: Path) -> None:
    script = guest_script(["true"], cwd=tmp_path / "gone", env={"PATH": "/usr/bin:/bin"}, exchange=tmp_path,
                          backend=VmBackend.TCG).replace("modprobe", ": modprobe").replace("mkdir -p /run/netns", ":")
    (tmp_path / "guest.sh").write_text(script.replace("/proc/sys/kernel/printk", "/dev/null"))
    proc = subprocess.run(["bash", str(tmp_path / "guest.sh")], capture_output=True, text=True, check=False)
    assert (tmp_path / "rc").read_text().strip() == "126"
    assert "cannot cd to" in proc.stderr


# ------------------------------------------------------------------------- fake guests and the watchdog

FAST = {VmBackend.UML: (5.0, 1.0), VmBackend.KVM: (5.0, 1.0), VmBackend.TCG: (10.0, 2.0)}

BEHAVIOUR = {
    # Debian's UML on an AMX CPU: a few boot lines, the cause, the panic, a stack dump, abort
    "panic": "echo 'Linux version 6.1.176'; echo 'Run /init as init process'; "
             "echo 'userspace - ptrace set fp regs failed, errno = 14'; "
             "echo 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b'; "
             "echo ' [<6017f0e2>] ? putname+0x0/0x9b'; echo 'Adding 1 bytes to physical memory' >&2; kill -ABRT $$",
    # kvm-pvm: the boot loader's last words, then nothing, forever
    "hang": "echo 'Probing EDD (edd=off to disable)... ok' >&2; exec sleep 600",
    # a guest that boots: kernel noise, the markers, the command, the end markers, the power-off line
    "boot": "echo '[    0.0] Linux version 6.1.0' >&2; echo \"$UP\"; echo \"$UP\" >&2; echo hello; "
            "echo to-err >&2; echo 5 > \"$X/rc\"; printf '%s\\n' \"$DONE\"; printf '%s\\n' \"$DONE\" >&2; "
            "echo '[   85.5] reboot: Power down' >&2",
    "die": "echo \"$UP\"; echo \"$UP\" >&2; echo working; echo 'Kernel panic - not syncing: Out of memory'; exit 1",
}


def fake_plan(tmp_path: Path, kind: VmBackend, behaviour: str) -> VmPlan:
    nonce = tmp_path.name
    env = (("UP", marker(nonce).decode()), ("DONE", end_marker(nonce).decode()), ("X", str(tmp_path)))
    return VmPlan(backend=kind, argv=("sh", "-c", BEHAVIOUR[behaviour]), guest_script="",
                  script_path=tmp_path / "guest.sh", exchange=tmp_path, nonce=nonce, host_env=env)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[VmBackend, str]:
    """Every backend installed, with short watchdog limits; each boots as ``fakes[kind]`` says."""
    plan: dict[VmBackend, str] = {VmBackend.UML: "panic", VmBackend.KVM: "hang", VmBackend.TCG: "boot"}
    monkeypatch.setattr(backends, "BACKENDS", tuple(Backend(k, k.value, *FAST[k]) for k in FAST))
    monkeypatch.setattr(backends, "prerequisites", lambda kind: [])
    monkeypatch.setattr(runner, "build_plan", lambda argv, *, exchange, backend, **kw: fake_plan(
        exchange, backend, plan[backend]))
    return plan


def test_auto_skips_a_panicking_and_a_hanging_guest_and_runs_on_the_one_that_boots(
        fakes: dict[VmBackend, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    heard: list[str] = []
    cache = BootCache(tmp_path / "vm.json")
    start = time.monotonic()
    rc = runner.run_in_vm(["x"], cwd=tmp_path, notify=heard.append, cache=cache)
    took = time.monotonic() - start
    out, err = capfd.readouterr()
    assert rc == 5
    assert out == "hello\n" and err == "to-err\n", "boot noise and the power-off line are not the command's output"
    assert took < 4, f"the hang is bounded by the 1 s silence watchdog, took {took:.1f} s"
    assert "uml VM did not boot here" in heard[0] and "ptrace set fp regs failed" in heard[0]
    assert "known: Debian's user-mode-linux 6.1 cannot run on Intel CPUs with AMX" in heard[0]
    assert "kvm VM did not boot here: it printed nothing for 1 s" in heard[1] and "Probing EDD" in heard[1]
    uml, kvm, tcg = (cache.get(k) for k in (VmBackend.UML, VmBackend.KVM, VmBackend.TCG))
    assert uml and not uml.boots and "Kernel panic" in " ".join(uml.tail)
    assert not any(line.startswith(" [<") for line in uml.tail), "stack dumps are not quoted"
    assert kvm and not kvm.boots and tcg and tcg.boots
    # the next command, in the same boot of the host, goes straight to the backend that works
    heard.clear()
    start = time.monotonic()
    assert runner.run_in_vm(["x"], cwd=tmp_path, notify=heard.append, cache=cache) == 5
    assert heard == [] and time.monotonic() - start < 1.5


def test_a_forced_backend_that_hangs_is_killed_and_reported_with_a_next_step(
        fakes: dict[VmBackend, str], tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(VmBootError) as info:
        runner.run_in_vm(["x"], cwd=tmp_path, backend=VmBackend.KVM, cache=BootCache(tmp_path / "vm.json"))
    assert time.monotonic() - start < 3
    text = str(info.value)
    assert "kvm VM did not boot" in text and "printed nothing for 1 s" in text and "Probing EDD" in text
    assert "--backend tcg" in text


def test_a_forced_backend_that_panics_quotes_the_panic(fakes: dict[VmBackend, str], tmp_path: Path) -> None:
    with pytest.raises(VmBootError) as info:
        runner.run_in_vm(["x"], cwd=tmp_path, backend=VmBackend.UML, cache=BootCache(tmp_path / "vm.json"))
    assert "ptrace set fp regs failed" in str(info.value) and "Kernel panic" in str(info.value)


def test_no_backend_boots(fakes: dict[VmBackend, str], tmp_path: Path) -> None:
    fakes[VmBackend.TCG] = "panic"
    with pytest.raises(VmError, match="no full-kernel VM backend boots") as info:
        runner.run_in_vm(["x"], cwd=tmp_path, notify=lambda _: None, cache=BootCache(tmp_path / "vm.json"))
    assert str(info.value).count("did not boot") == 0 and "tcg:" in str(info.value)


def test_a_guest_that_dies_during_the_command_is_not_retried_elsewhere(
        fakes: dict[VmBackend, str], tmp_path: Path) -> None:
    fakes[VmBackend.UML] = "die"
    with pytest.raises(VmError, match="died") as info:
        runner.run_in_vm(["x"], cwd=tmp_path, notify=lambda _: None, cache=BootCache(tmp_path / "vm.json"))
    assert not isinstance(info.value, VmBootError), "the command ran: running it again elsewhere could repeat it"
    assert "Out of memory" in str(info.value)


def test_the_command_timeout_applies_after_the_boot(tmp_path: Path) -> None:
    plan = fake_plan(tmp_path, VmBackend.TCG, "boot")
    slow = VmPlan(**{**plan.__dict__, "argv": ("sh", "-c", 'echo "$UP"; echo "$UP" >&2; exec sleep 30')})
    start = time.monotonic()
    with pytest.raises(VmError, match="did not finish within 1 s") as info:
        launch(slow, Backend(VmBackend.TCG, "t", 0.2, 0.1), timeout=1)
    assert not isinstance(info.value, VmBootError)
    assert 0.9 < time.monotonic() - start < 3, "the boot limits (0.2 s) stop applying once the guest is up"


def test_the_relay_handles_markers_split_across_reads(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    script = ('printf "%s" "${UP%????}"; sleep 0.2; printf "%s\\n" "${UP#${UP%????}}"; echo "$UP" >&2; '
              'seq 1 20000; printf "x%s" "${DONE%???}"; sleep 0.2; printf "%s\\n" "${DONE#${DONE%???}}"; '
              'echo "$DONE" >&2; echo 0 > "$X/rc"')
    plan = fake_plan(tmp_path, VmBackend.TCG, "boot")
    split = VmPlan(**{**plan.__dict__, "argv": ("bash", "-c", script)})
    assert launch(split, Backend(VmBackend.TCG, "t", 10, 5)).rc == 0
    out, _ = capfd.readouterr()
    assert out == "".join(f"{i}\n" for i in range(1, 20001)) + "x"


def test_digest_keeps_the_cause_and_drops_stack_dumps() -> None:
    log = ["a", "b", "Run /init as init process", "userspace - ptrace set fp regs failed, errno = 14",
           "Kernel panic - not syncing: Attempted to kill init!", "CPU: 0 PID: 1 Comm: true", "Stack:",
           " 606944ba 607e7fcd 8d057b90 6067bb96", "Call Trace:", " [<6017f0e2>] ? putname+0x0/0x9b", "z"]
    assert digest(log) == ("b", "Run /init as init process", "userspace - ptrace set fp regs failed, errno = 14",
                           "Kernel panic - not syncing: Attempted to kill init!")
    assert digest(["x", "y", "Probing EDD (edd=off to disable)... ok"]) == (
        "x", "y", "Probing EDD (edd=off to disable)... ok")


def test_boot_records_are_per_host_boot_and_per_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netlab.vm import choice

    cache = BootCache(tmp_path / "vm.json")
    cache.put(VmBackend.UML, False, 1.5, "panicked", ("Kernel panic",))
    assert cache.get(VmBackend.UML) is not None
    monkeypatch.setattr(choice, "identity", lambda kind: "another build of linux.uml")
    assert cache.get(VmBackend.UML) is None, "an upgraded UML is booted again"
    monkeypatch.undo()
    monkeypatch.setattr(choice, "boot_id", lambda: "after-a-reboot")
    assert cache.get(VmBackend.UML) is None, "a reboot forgets every record"
    (tmp_path / "vm.json").write_text('{"boot_id": null, "records": {"uml": {"boots": "garbage"}}}')
    assert BootCache(tmp_path / "vm.json").get(VmBackend.UML) is None, "a malformed record is ignored"



def test_the_virtme_ng_pin_is_the_one_installed() -> None:
    script = (Path(__file__).resolve().parents[2] / "scripts" / "install-vm-deps").read_text()
    assert f"VNG_VERSION={backends.VNG_VERSION}\n" in script


def test_sigterm_kills_the_guest_s_whole_session_like_ctrl_c(tmp_path: Path) -> None:
    """A CI runner stops a job with SIGTERM; `netlab vm` once died at once and left QEMU running."""
    import os
    import signal
    import threading

    from netlab.interrupts import sigterm_as_interrupt

    plan = fake_plan(tmp_path, VmBackend.TCG, "boot")
    pid_file = tmp_path / "guest.pid"
    slow = VmPlan(**{**plan.__dict__, "argv": ("sh", "-c", f'echo "$UP"; echo "$UP" >&2; echo $$ > {pid_file}; '
                                                           "exec sleep 60")})
    threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        launch(slow, Backend(VmBackend.TCG, "t", 5, 5), timeout=30)
    guest = int(pid_file.read_text())
    assert not Path(f"/proc/{guest}").exists(), "the guest's process must be gone"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
