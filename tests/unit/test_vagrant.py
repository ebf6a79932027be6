"""netlab vagrant without a VM: the Vagrantfile renderer, ssh-config parsing, step limits, and the CI workflow's
cleanup driven through fake ``vagrant``/``virsh`` programs (the real flow runs in CI: tests/vagrant)."""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

from netlab.cli.main import main
from netlab.errors import InvalidInput, NetlabError
from netlab.vagrant import ci
from netlab.vagrant.provision import inventory, parse_ssh_config
from netlab.vagrant.steps import StepFailed, Steps
from netlab.vagrant.vagrantfile import VagrantConfig, render, source_dir

SSH_CONFIG = """Host netlab
  HostName 192.168.121.45
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /var/tmp/run/.vagrant/machines/netlab/libvirt/private_key
  IdentitiesOnly yes
  LogLevel FATAL
"""


def test_the_committed_vagrantfile_is_the_template_rendered_with_its_defaults() -> None:
    assert render(VagrantConfig()) == (source_dir() / "vagrant" / "Vagrantfile").read_text()


def test_ci_settings_reach_the_vagrantfile_as_ruby_string_literals() -> None:
    text = render(VagrantConfig(vms=("netlab",), box="netlab/bookworm-abc123", libvirt_driver="qemu",
                                kernel="/var/cache/netlab/vagrant/k/vmlinuz", initrd="/var/cache/x/initrd.img",
                                cmd_line="root=/dev/vda rw console=ttyS0 net.ifnames=0", playbook=None,
                                management_network="netlab-ci-0a1b2c", management_subnet="192.168.213.0/24",
                                default_prefix="netlab-ci-0a1b2c-"))
    assert 'libvirt.driver = "qemu"' in text and 'libvirt.cpu_model = "qemu64"' in text
    assert 'libvirt.kernel = "/var/cache/netlab/vagrant/k/vmlinuz"' in text
    assert 'libvirt.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0"' in text
    assert 'libvirt.management_network_name = "netlab-ci-0a1b2c"' in text
    assert 'libvirt.management_network_address = "192.168.213.0/24"' in text
    assert 'libvirt.default_prefix = "netlab-ci-0a1b2c-"' in text
    assert "provision" not in text.split("VMS.each", 1)[1]  # ansible-runner provisions from outside


def test_each_vm_gets_a_console_log_of_its_own() -> None:
    """libvirt opens a serial console's file exclusively: two guests given one file, the second does not start
    ("Cannot open log file ... Device or resource busy", seen in the first two-VM run)."""
    text = render(VagrantConfig(vms=("netlab1", "netlab2"), console_log="/tmp/out/logs/console-%s.log"))
    each_vm = text.split("VMS.each", 1)[1]
    assert 'libvirt.serial :type => "file", :source => {:path => format("/tmp/out/logs/console-%s.log", name)}' \
        in each_vm
    assert "serial" not in text.split("VMS.each", 1)[0]


def test_bad_settings_are_all_reported_at_once_and_nothing_is_rendered() -> None:
    with pytest.raises(InvalidInput) as err:
        render(VagrantConfig(vms=("a", "A b"), box='x"; system("id")', libvirt_driver="xen", memory=1,
                             cmd_line="quiet`reboot`"))
    text = str(err.value)
    for fragment in ("'A b' is not a VM name", "is not a box name", "'xen' is not kvm or qemu", "memory: 1 MiB",
                     "cmd_line"):
        assert fragment in text


def test_ssh_config_becomes_an_inventory_of_checked_values() -> None:
    targets = parse_ssh_config(SSH_CONFIG)
    assert [(t.name, t.host, t.port, t.user) for t in targets] == [("netlab", "192.168.121.45", 22, "vagrant")]
    host = inventory(targets)["all"]["hosts"]["netlab"]
    assert host["ansible_ssh_private_key_file"].endswith("/private_key")
    assert "StrictHostKeyChecking=no" in host["ansible_ssh_common_args"]


@pytest.mark.parametrize("evil", ["Host netlab;rm\n  HostName 1.2.3.4\n  User vagrant\n  IdentityFile /k",
                                  "Host netlab\n  HostName 1.2.3.4 -oProxyCommand=id\n  User vagrant\n"
                                  "  IdentityFile /k",
                                  "Host netlab\n  HostName 1.2.3.4\n  User vagrant\n  IdentityFile relative/k"])
def test_an_ssh_config_entry_that_does_not_look_like_vagrant_s_is_refused(evil: str) -> None:
    with pytest.raises(NetlabError, match="does not trust"):
        parse_ssh_config(evil)


def test_a_step_over_its_limit_is_killed_with_its_children_and_reported_with_its_output(tmp_path: Path) -> None:
    steps = Steps(tmp_path, lambda _: None)
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    with pytest.raises(StepFailed) as err:
        steps.run("up", ["bash", "-c", f"echo booting; sleep 60 & echo $! > {pidfile}; wait"], timeout=1)
    assert time.monotonic() - start < 15
    assert "ran out of its 1 s" in str(err.value) and "| booting" in str(err.value)
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_a_failing_step_names_its_exit_code_and_log(tmp_path: Path) -> None:
    steps = Steps(tmp_path, lambda _: None)
    with pytest.raises(StepFailed, match=r"box exited 3 .*01-box.log"):
        steps.run("box", ["bash", "-c", "echo no space; exit 3"], timeout=10)
    assert steps.results[0].rc == 3 and "no space" in steps.results[0].log.read_text()


FAKE_VAGRANT = r"""#!/bin/bash
# records each call; `up` defines a domain, a network and a volume in the fake libvirt; `destroy` removes the
# domain only (as vagrant-libvirt does: the box volume and the management network stay)
state="$FAKE_LIBVIRT"
echo "vagrant $*" >> "$state/calls"
case "$1" in
  box) exit 0 ;;
  up) prefix=$(sed -n 's/.*default_prefix = "\(.*\)"/\1/p' "$VAGRANT_CWD/Vagrantfile")
      net=$(sed -n 's/.*management_network_name = "\(.*\)"/\1/p' "$VAGRANT_CWD/Vagrantfile")
      echo "${prefix}netlab" >> "$state/domains"; echo "$net" >> "$state/networks"
      echo "${prefix}netlab.img" >> "$state/volumes"
      [ -n "$FAKE_UP_FAILS" ] && { echo "Call to virDomainCreateWithFlags failed"; exit 1; }
      [ -n "$FAKE_UP_HANGS" ] && sleep 600; exit 0 ;;
  ssh-config) printf 'Host netlab\n  HostName 192.168.121.9\n  User vagrant\n  Port 22\n  IdentityFile /k\n' ;;
  destroy) sed -i '/-netlab$/d' "$state/domains"; sed -i '/-netlab.img$/d' "$state/volumes" ;;
esac
"""
FAKE_VIRSH = r"""#!/bin/bash
state="$FAKE_LIBVIRT"
shift 3  # -q -c URI
case "$1" in
  list) cat "$state/domains" ;;
  net-list) cat "$state/networks" ;;
  pool-list) echo default ;;
  vol-list) cat "$state/volumes" ;;
  destroy|net-destroy) ;;
  undefine) sed -i "/^$2\$/d" "$state/domains" ;;
  net-undefine) sed -i "/^$2\$/d" "$state/networks" ;;
  vol-delete) sed -i "/^$2\$/d" "$state/volumes" ;;
esac
"""


@pytest.fixture
def fake_libvirt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state, bin_dir = tmp_path / "libvirt", tmp_path / "bin"
    state.mkdir()
    bin_dir.mkdir()
    for name in ("domains", "networks", "volumes", "calls"):
        (state / name).write_text("")
    (state / "volumes").write_text("someone-elses-vm.img\n")
    for name, text in (("vagrant", FAKE_VAGRANT), ("virsh", FAKE_VIRSH)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LIBVIRT", str(state))
    monkeypatch.setenv("NETLAB_VAGRANT_WORK", str(tmp_path / "work"))
    return state


def _options(tmp_path: Path, **kw: object) -> ci.CiOptions:
    return ci.CiOptions(labs=("dr-mode",), out=tmp_path / "out", box="debian/bookworm64", driver="qemu",
                        **kw)  # type: ignore[arg-type]


def test_a_failed_up_still_leaves_nothing_and_the_error_comes_after_the_cleanup(
        tmp_path: Path, fake_libvirt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_UP_FAILS", "1")
    with pytest.raises(StepFailed, match="up exited 1"):
        ci.run_ci(_options(tmp_path), lambda _: None)
    assert (fake_libvirt / "domains").read_text() == "" and (fake_libvirt / "networks").read_text() == ""
    assert (fake_libvirt / "volumes").read_text() == "someone-elses-vm.img\n"  # not ours: untouched
    assert "vagrant destroy -f" in (fake_libvirt / "calls").read_text()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["leftovers"] == [] and [s["step"] for s in summary["steps"]] == ["driver", "up", "destroy", "total"]
    assert list((tmp_path / "work").iterdir()) == []


def test_sigterm_during_a_hung_up_kills_it_and_cleans_up(
        tmp_path: Path, fake_libvirt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_UP_HANGS", "1")
    threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ci.run_ci(_options(tmp_path), lambda _: None)
    assert time.monotonic() - start < 30
    assert (fake_libvirt / "domains").read_text() == "" and (fake_libvirt / "networks").read_text() == ""
    assert (fake_libvirt / "volumes").read_text() == "someone-elses-vm.img\n"
    steps = json.loads((tmp_path / "out" / "summary.json").read_text())["steps"]
    assert [(s["step"], s["rc"]) for s in steps][:3] == [("driver", 0), ("up", -2), ("destroy", 0)]


def test_ci_refuses_a_lab_name_that_is_not_one_before_touching_anything(
        tmp_path: Path, fake_libvirt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vagrant", "ci", "dr-mode;reboot", "--out", str(tmp_path / "o"), "--box", "b"]) == 2
    assert "is not a lab name" in capsys.readouterr().err
    assert (fake_libvirt / "calls").read_text() == ""


def test_box_env_is_read_strictly(tmp_path: Path) -> None:
    env = tmp_path / "box.env"
    env.write_text("BOX_NAME=netlab/bookworm-1\nBOX_PATH=/c/b.box\nKERNEL=/c/vmlinuz\nINITRD=/c/initrd.img\n"
                   "CMDLINE='root=/dev/vda rw'\nEVIL=$(id)\n")
    assert ci.read_box_env(env) == {"BOX_NAME": "netlab/bookworm-1", "BOX_PATH": "/c/b.box", "KERNEL": "/c/vmlinuz",
                                    "INITRD": "/c/initrd.img", "CMDLINE": "root=/dev/vda rw"}
    env.write_text("BOX_NAME=x\nBOX_PATH=b.box\n")
    with pytest.raises(NetlabError, match="missing"):
        ci.read_box_env(env)


def test_only_the_box_volume_this_run_uploaded_counts_as_its_leftover(
        fake_libvirt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = "netlab-VAGRANTSLASH-bookworm-fabdeaa45961_vagrant_box_image_"
    theirs, ours = f"{prefix}0_1796270000_box.img", f"{prefix}0_1796274407_box.img"
    (fake_libvirt / "volumes").write_text(f"{theirs}\n")
    before = frozenset({f"default/{theirs}"})
    (fake_libvirt / "volumes").write_text(f"{theirs}\n{ours}\nnetlab-ci-0a1b2c-netlab.img\nother.img\n")
    assert sorted(ci.leftovers("netlab-ci-0a1b2c", prefix, before)) == sorted([
        "volume default/netlab-ci-0a1b2c-netlab.img", f"volume default/{ours}"])
    assert ci.leftovers("netlab-ci-0a1b2c", None, before) == ["volume default/netlab-ci-0a1b2c-netlab.img"]
