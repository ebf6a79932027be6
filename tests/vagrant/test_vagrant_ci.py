"""``netlab vagrant ci`` for real: the offline box, a libvirt VM under QEMU, ansible-runner, labs inside.

Runs inside ``scripts/vagrant-env`` (a private libvirtd in private mount, network and PID namespaces), so the
VM, its bridge and dnsmasq never reach the machine's root namespace. ``./run tests`` installs Vagrant and sets
NETLAB_VAGRANT=1 (a missing prerequisite is then a failure, not a skip); without it the tests say how to run
them. One run of the whole flow (~10 min under TCG) proves the issue's "done when": the
labs' JUnit comes back passing, the second provisioning changes nothing, and libvirt holds nothing of the run
afterwards; a second, interrupted run (SIGINT while the VM boots) proves the cleanup after Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.vagrant

LABS = ("dr-mode", "tun-mode", "gre-tunnel")
ENV = REPO / "scripts" / "vagrant-env"


def _ready() -> None:
    if os.environ.get("NETLAB_VAGRANT") != "1":
        pytest.skip("boots a Vagrant VM (~10 min under TCG): NETLAB_VAGRANT=1 runs it; ./run tests does, once per run")
    missing = [t for t in ("vagrant", "virsh", "libvirtd", "qemu-system-x86_64", "debootstrap") if not shutil.which(t)]
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        missing.append("ansible-runner (pip install -e '.[vagrant]')")
    if os.geteuid() != 0:
        missing.append("root")
    if not missing:
        return
    pytest.fail(f"needs {', '.join(missing)}: scripts/install-vagrant-deps")


def _in_env(script: str, out: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``script`` (bash) inside a private libvirt; afterwards what libvirt held at the end is in out/libvirt-*."""
    body = (f"{script}\nrc=$?\n"
            f"virsh -q -c qemu:///system list --all --name > {out}/libvirt-domains\n"
            f"virsh -q -c qemu:///system net-list --all --name > {out}/libvirt-networks\n"
            f"for p in $(virsh -q -c qemu:///system pool-list --all --name); do "
            f"virsh -q -c qemu:///system vol-list $p; done > {out}/libvirt-volumes\n"
            "exit $rc\n")
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # this venv's netlab
    return subprocess.run([str(ENV), "bash", "-c", body], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "PATH": path})


def _read(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


def test_labs_run_in_a_vagrant_vm_and_nothing_is_left(tmp_path: Path) -> None:
    _ready()
    out = tmp_path / "out"
    out.mkdir()
    done = _in_env(f"netlab vagrant ci {' '.join(LABS)} --idempotent --out {out}", out, timeout=3600)
    summary = json.loads((out / "summary.json").read_text())
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}\n{json.dumps(summary, indent=1)}"
    assert summary["labs"] == dict.fromkeys(LABS, 0)
    for lab in LABS:
        suites = list(ET.parse(out / f"{lab}.xml").getroot().iter("testsuite"))
        assert [s.get("name") for s in suites] == [f"netlab.{lab}"]
        assert len(list(suites[0].iter("testcase"))) == int(suites[0].get("tests", "0")) >= 3, lab
        assert suites[0].get("failures") == "0" and suites[0].get("errors") == "0", lab
        assert not list(suites[0].iter("failure")) and not list(suites[0].iter("skipped")), lab
    first, second = summary["provisioning"]
    assert first["status"] == second["status"] == "successful"
    assert sum(first["changed"].values()) > 0 and sum(second["changed"].values()) == 0, "not idempotent"
    assert summary["leftovers"] == []
    assert _read(out / "libvirt-domains") == [] and _read(out / "libvirt-networks") == []
    assert _read(out / "libvirt-volumes") == [], "the box's base volume and the VM's disk are removed"


def test_ctrl_c_while_the_vm_boots_leaves_nothing(tmp_path: Path) -> None:
    _ready()
    out = tmp_path / "out"
    out.mkdir()
    # A command started in the background by a non-interactive shell (as vagrant-env and this script do) inherits
    # SIGINT *ignored*, and Python then keeps ignoring it (the Unix rule for background jobs). A terminal's Ctrl-C
    # reaches a foreground netlab with SIGINT at its default: restore that before exec, as a terminal would have it.
    reset = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
             "os.execvp(sys.argv[1], sys.argv[1:])")
    # --driver qemu: the labs test above proves the automatic choice; no second KVM boot to decide it again
    script = (f"python3 -c '{reset}' netlab vagrant ci dr-mode --driver qemu --out {out} & pid=$!\n"
              f"for i in $(seq 600); do virsh -q -c qemu:///system list --name | grep -q netlab-ci && break; "
              "sleep 1; done\n"
              "sleep 5; kill -INT $pid; wait $pid")
    start = time.monotonic()
    done = _in_env(script, out, timeout=1800)
    assert done.returncode in (130, 1, -signal.SIGINT), done.stderr[-3000:]
    assert "interrupted" in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    steps = [(s["step"], s["rc"]) for s in summary["steps"]]
    assert ("up", -2) in steps and ("destroy", 0) in steps, f"interrupted while booting, then destroyed: {steps}"
    assert summary["labs"] == {} and summary["leftovers"] == []
    assert _read(out / "libvirt-domains") == [] and _read(out / "libvirt-networks") == []
    assert _read(out / "libvirt-volumes") == []
    assert time.monotonic() - start < 1800


def test_a_learner_s_vagrant_up_is_provisioned_by_vagrant_s_own_ansible_provisioner(tmp_path: Path) -> None:
    """The learner path: `vagrant up` of the template's Vagrantfile runs playbooks/provision.yml through Vagrant's
    ansible provisioner (the offline box stands in for debian/bookworm64, which CI cannot download); the lab runs
    inside, and `vagrant provision` again changes nothing."""
    _ready()
    from netlab.vagrant.ci import read_box_env
    from netlab.vagrant.vagrantfile import VagrantConfig, render

    box = subprocess.run(["bash", str(REPO / "scripts" / "vagrant-box")], capture_output=True, text=True,
                         timeout=1800, check=True).stdout.strip().splitlines()[-1]
    env = read_box_env(Path(box).parent / "box.env")
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "Vagrantfile").write_text(render(VagrantConfig(
        box=env["BOX_NAME"], box_url="file://" + env["BOX_PATH"], kernel=env["KERNEL"], initrd=env["INITRD"],
        cmd_line=env["CMDLINE"], libvirt_driver="qemu", src_dir=str(REPO),
        playbook=str(REPO / "playbooks" / "provision.yml"))))
    script = (f"cd {tmp_path} && vagrant up > {out}/up.log 2>&1 && "
              f"vagrant ssh -c 'sudo netlab run routed' > {out}/run.log 2>&1 && "
              f"vagrant provision > {out}/again.log 2>&1; rc=$?; vagrant destroy -f > /dev/null 2>&1; exit $rc")
    done = _in_env(script, out, timeout=2400)
    logs = {p.name: p.read_text() for p in out.glob("*.log")}
    assert done.returncode == 0, f"{done.stderr[-2000:]}\n" + "\n".join(f"== {k}\n{v[-3000:]}" for k, v in logs.items())
    assert "PLAY RECAP" in logs["up.log"] and "failed=0" in logs["up.log"]
    assert re.search(r"\b(\d+) of \1 probes passed", logs["run.log"]), logs["run.log"][-1500:]
    assert "changed=0" in logs["again.log"] and "failed=0" in logs["again.log"]
    assert _read(out / "libvirt-domains") == []
