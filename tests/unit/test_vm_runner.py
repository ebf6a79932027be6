"""The VM runner's decisions, without booting anything: command lines, guest scripts, prerequisites, and the
output/exit-code plumbing (exercised with an ordinary process standing in for the VM)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from netlab.errors import VmError
from netlab.vm import runner
from netlab.vm.runner import (
    GUEST_MODULES,
    VmBackend,
    VmPlan,
    build_plan,
    guest_environment,
    guest_script,
    vm_prerequisites,
)

HOST_ENV = {"PATH": "/opt/venv/bin:/usr/bin:/bin", "HOME": "/root", "SECRET_TOKEN": "x"}


def uml_plan(tmp_path: Path, **overrides: object) -> VmPlan:
    cwd = tmp_path / "proj"
    cwd.mkdir(exist_ok=True)
    exchange = tmp_path / "xchg"
    exchange.mkdir(exist_ok=True)
    args: dict[str, object] = {
        "cwd": cwd,
        "exchange": exchange,
        "backend": VmBackend.UML,
        "memory": "1G",
        "host_env": HOST_ENV,
    }
    args.update(overrides)
    return build_plan(["pytest", "-k", "it's a test"], **args)  # type: ignore[arg-type]


def vng_plan(tmp_path: Path, accel: str = "tcg", interactive: bool = False) -> VmPlan:
    cwd = tmp_path / "proj"
    cwd.mkdir(exist_ok=True)
    return build_plan(
        ["netlab", "up", "ipvs"],
        cwd=cwd,
        exchange=tmp_path,
        backend=VmBackend.VNG,
        cpus=3,
        memory="3G",
        host_env=HOST_ENV,
        accel=accel,
        kernel=Path("/boot/vmlinuz-6.1.0-9-amd64"),
        vng=Path("/venv/bin/vng"),
        interactive=interactive,
    )


def test_uml_command_line(tmp_path: Path) -> None:
    plan = uml_plan(tmp_path)
    argv = list(plan.argv)
    assert argv[0] == str(runner.UML_BINARY)
    for expected in ("mem=1G", "rootfstype=hostfs", "rootflags=/", "ro", "con0=fd:0,fd:1", "con1=null,fd:2"):
        assert expected in argv
    assert "rw" not in argv, "the host's root must be read-only in the guest"
    assert f"init={tmp_path / 'xchg' / 'guest.sh'}" in argv
    assert dict(plan.host_env)["TMPDIR"]
    assert plan.accel == "uml"


def test_uml_guest_script(tmp_path: Path) -> None:
    script = uml_plan(tmp_path).guest_script
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert f"modprobe -a -q {' '.join(GUEST_MODULES)} 2>/dev/null" in lines
    for module in ("ip_vs", "ip_vs_sh", "ip_vs_dh", "ip_gre", "ipip", "ipvlan", "sch_netem", "dummy", "8021q"):
        assert module in GUEST_MODULES
    assert "mkdir -p /run/netns" in lines
    assert "export PYTHONDONTWRITEBYTECODE=1" in lines
    assert "export PATH=/opt/venv/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" in lines
    assert "export HOME=/root" in lines
    assert not any("SECRET_TOKEN" in line for line in lines), "only known variables are carried"
    assert f"if cd {tmp_path / 'proj'}; then" in lines
    assert "  pytest -k 'it'\"'\"'s a test' </dev/null >/run/netlab-stdout 2>/run/netlab-stderr" in lines
    assert f"mount -t hostfs -o {tmp_path / 'proj'} none {tmp_path / 'proj'}" in lines
    assert f"echo $netlab_rc > {tmp_path / 'xchg' / 'rc'}" in lines
    assert "exec 1>/dev/console 2>/dev/tty1" in lines
    assert lines.index("exec 1>/dev/console 2>/dev/tty1") < lines.index("mount -t proc proc /proc")
    assert lines[-1].startswith("poweroff -f")


def test_writable_dirs(tmp_path: Path) -> None:
    none = uml_plan(tmp_path, writable=()).guest_script
    assert f"none {tmp_path / 'proj'}" not in none
    extra = tmp_path / "results"
    extra.mkdir()
    two = uml_plan(tmp_path, writable=[tmp_path / "proj", extra]).guest_script
    assert f"mount -t hostfs -o {extra} none {extra}" in two


def test_env_is_exported_quoted(tmp_path: Path) -> None:
    script = uml_plan(tmp_path, env={"LAB": "a b", "PATH": "/only"}).guest_script
    assert "export LAB='a b'" in script.splitlines()
    assert "export PATH=/only" in script.splitlines(), "an explicit env wins over the host's PATH"


def test_vng_command_line(tmp_path: Path) -> None:
    plan = vng_plan(tmp_path)
    argv = list(plan.argv)
    assert argv[:3] == ["/venv/bin/vng", "--run", "/boot/vmlinuz-6.1.0-9-amd64"]
    assert "--disable-kvm" in argv
    assert argv[argv.index("--cpus") + 1] == "3"
    assert argv[argv.index("--memory") + 1] == "3G"
    assert f"--rwdir={tmp_path / 'proj'}" in argv and f"--rwdir={tmp_path}" in argv
    assert argv[-2:] == ["--exec", f"bash {shlex.quote(str(tmp_path / 'guest.sh'))}"]
    assert dict(plan.host_env)["PATH"].startswith("/venv/bin:")
    script = plan.guest_script
    assert "mount -t hostfs" not in script and "poweroff" not in script
    assert "  netlab up ipvs </dev/null" in script.splitlines()


def test_vng_uses_kvm_when_told(tmp_path: Path) -> None:
    assert "--disable-kvm" not in vng_plan(tmp_path, accel="kvm").argv


def test_vng_interactive_gets_a_terminal(tmp_path: Path) -> None:
    argv = list(vng_plan(tmp_path, interactive=True).argv)
    assert "--exec" not in argv
    assert argv[argv.index("--shell") + 1] == str(tmp_path / "guest.sh")


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="empty"):
        build_plan([], cwd=tmp_path, exchange=tmp_path, backend=VmBackend.UML)
    with pytest.raises(VmError, match="memory"):
        uml_plan(tmp_path, memory="lots")
    with pytest.raises(ValueError):
        uml_plan(tmp_path, backend=VmBackend.AUTO)


def test_memory_sizes() -> None:
    assert runner._memory_bytes("2G") == 2 << 30
    assert runner._memory_bytes("512M") == 512 << 20
    assert runner._memory_bytes("1024") == 1024


def test_prerequisites_name_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner, "UML_BINARY", tmp_path / "linux.uml")
    problems = vm_prerequisites(VmBackend.UML)
    assert any("user-mode-linux" in p and "apt-get install -y user-mode-linux" in p for p in problems)
    monkeypatch.setattr(runner, "_qemu", lambda: None)
    monkeypatch.setattr(runner, "find_vng", lambda path_env=None: None)
    monkeypatch.setattr(runner, "find_vng_kernel", lambda: None)
    vng = vm_prerequisites(VmBackend.VNG)
    assert any("qemu-system-x86" in p for p in vng)
    assert any("pip install virtme-ng" in p for p in vng)
    assert any("linux-image-amd64" in p for p in vng)
    auto = vm_prerequisites(VmBackend.AUTO)
    assert auto[0] == problems[0] and "alternative backend vng" in auto[-1]


def test_run_refuses_when_backend_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner, "UML_BINARY", tmp_path / "linux.uml")
    with pytest.raises(VmError, match="apt-get install -y user-mode-linux"):
        runner.run_in_vm(["true"], cwd=tmp_path, backend=VmBackend.UML)


def test_kernel_choice(tmp_path: Path) -> None:
    boot, mods = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    for version in ("6.1.0-9-amd64", "6.10.2-amd64", "6.2.0-1-amd64"):
        (boot / f"vmlinuz-{version}").touch()
    for version in ("6.1.0-9-amd64", "6.2.0-1-amd64"):  # 6.10.2 has no modules: unusable
        (mods / version).mkdir(parents=True)
        (mods / version / "modules.dep").touch()
    assert runner.find_vng_kernel(boot, mods) == boot / "vmlinuz-6.2.0-1-amd64"
    assert runner.find_vng_kernel(tmp_path / "none", mods) is None


def test_kvm_needs_qemu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_qemu", lambda: None)
    assert runner.kvm_usable() is False


def fake_plan(tmp_path: Path, shell: str) -> VmPlan:
    """A plan whose 'VM' is a plain process that behaves like one: output on both streams, rc file."""
    return VmPlan(
        backend=VmBackend.UML,
        argv=(sys.executable, "-c", f"import subprocess; subprocess.run(['sh', '-c', {shell!r}])"),
        guest_script="",
        script_path=tmp_path / "guest.sh",
        exchange=tmp_path,
        accel="uml",
        host_env=(),
    )


def test_output_and_exit_code_come_back(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    shell = f"seq 1 20000; echo to-err >&2; echo 42 > {tmp_path}/rc"
    assert runner._launch(fake_plan(tmp_path, shell), interactive=False, timeout=60) == 42
    out, err = capfd.readouterr()
    assert out.splitlines() == [str(i) for i in range(1, 20001)]
    assert err == "to-err\n"


def test_a_vm_that_dies_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="before the command reported"):
        runner._launch(fake_plan(tmp_path, "exit 3"), interactive=False, timeout=60)


def test_timeout_kills_the_vm(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="within"):
        runner._launch(fake_plan(tmp_path, "sleep 30"), interactive=False, timeout=0.5)


def test_vng_guest_script_runs_under_bash(tmp_path: Path) -> None:
    """The script itself (vng flavour: no PID-1 prelude) with stub modprobe: exit code, cwd, env."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "modprobe").write_text("#!/bin/sh\necho modprobe \"$@\" >> \"$MODLOG\"\n")
    (stubs / "modprobe").chmod(0o755)
    cwd = tmp_path / "proj"
    cwd.mkdir()
    script = guest_script(
        ["sh", "-c", 'pwd; echo "$LAB $PYTHONDONTWRITEBYTECODE"; exit 7'],
        cwd=cwd,
        # the environment run_in_vm builds (PYTHONDONTWRITEBYTECODE included), not this process's
        env=guest_environment({"LAB": "x y", "MODLOG": str(tmp_path / "mods")}, {"PATH": f"{stubs}:/usr/bin:/bin"}),
        exchange=tmp_path,
        backend=VmBackend.VNG,
    ).replace("mkdir -p /run/netns", ":")  # not the host's /run
    (tmp_path / "guest.sh").write_text(script)
    proc = subprocess.run(["bash", str(tmp_path / "guest.sh")], capture_output=True, text=True, check=False)
    assert proc.stdout.splitlines() == [str(cwd), "x y 1"]
    assert (tmp_path / "rc").read_text().strip() == "7"
    assert (tmp_path / "mods").read_text().split() == ["modprobe", "-a", "-q", *GUEST_MODULES]


def test_a_missing_cwd_is_exit_126_not_a_dead_vm(tmp_path: Path) -> None:
    script = guest_script(
        ["true"], cwd=tmp_path / "gone", env={"PATH": "/usr/bin:/bin"}, exchange=tmp_path, backend=VmBackend.VNG
    ).replace("modprobe", ": modprobe").replace("mkdir -p /run/netns", ":")
    (tmp_path / "guest.sh").write_text(script)
    proc = subprocess.run(["bash", str(tmp_path / "guest.sh")], capture_output=True, text=True, check=False)
    assert (tmp_path / "rc").read_text().strip() == "126"
    assert "cannot cd to" in proc.stderr
