"""A machine that lacks a program netlab or a lab runs: every verb says which package to install, in one
sentence and with exit 4, never a traceback -- and never "use the VM", which would not help.

Each command runs in a private mount namespace where ``/usr/bin`` and ``/usr/sbin`` are replaced by a tmpfs
of symlinks to every program except the ones the test hides (and a private network namespace, with its own
/run/netns and /run/netlab, for those that build a lab). Nothing of the host's file system changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, catalog_copy

pytestmark = pytest.mark.root

HIDE_AND_RUN = r"""
import os, subprocess, sys, tempfile
from netlab.kernel.netns import MS_BIND, mount, umount
hide = set(filter(None, sys.argv[1].split(",")))
base = tempfile.mkdtemp(prefix="netlab-hide-")
for d in ("/run/netns", "/run/netlab"):
    os.makedirs(d, exist_ok=True)
    mount("tmpfs", d, "tmpfs", 0)
    os.chmod(d, 0o755)  # a tmpfs starts 1777: netlab refuses a run directory others can write
for d in ("/usr/bin", "/usr/sbin"):
    saved = base + d
    os.makedirs(saved)
    mount(d, saved, "none", MS_BIND)
    mount("tmpfs", d, "tmpfs", 0)
    for name in os.listdir(saved):
        if name not in hide:
            os.symlink(f"{saved}/{name}", f"{d}/{name}")
rc = subprocess.run(sys.argv[2:], check=False).returncode
# the mounts die with this namespace, the directories under /tmp would not: unmount, then rmdir each -- never a
# recursive delete, which could reach into a directory still mounted
for d in ("/usr/bin", "/usr/sbin"):
    umount(d)
    umount(base + d)
for path in (base + "/usr/bin", base + "/usr/sbin", base + "/usr", base):
    os.rmdir(path)
sys.exit(rc if rc >= 0 else 128 - rc)
"""

IPTABLES = "iptables,iptables-restore,iptables-save,iptables-legacy,iptables-legacy-restore,iptables-nft," \
           "iptables-nft-restore,xtables-legacy-multi,xtables-nft-multi"


def netlab_without(hide: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["unshare", "--mount", "--net", "--propagation", "private", sys.executable, "-c", HIDE_AND_RUN, hide,
            sys.executable, "-m", "netlab", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(REPO),
                               **(env or {})})


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def test_a_lab_with_iptables_rules_names_the_package_not_the_vm() -> None:
    r = netlab_without(IPTABLES, "up", "firewalled")
    no_traceback(r)
    assert r.returncode == 4, r.stderr
    assert "apt-get install -y iptables" in r.stderr
    assert "netlab vm" not in r.stderr, "a VM does not bring a missing program"


def test_exec_of_a_missing_program_names_its_package(tmp_path: Path) -> None:
    script = (f"{sys.executable} -m netlab up routed >/dev/null && "
              f"{sys.executable} -m netlab exec routed client -- ping -c1 10.0.2.10; rc=$?; "
              f"{sys.executable} -m netlab down routed >/dev/null; exit $rc")
    argv = ["unshare", "--mount", "--net", "--propagation", "private", sys.executable, "-c", HIDE_AND_RUN, "ping",
            "/bin/sh", "-c", script]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
                       env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(REPO)})
    no_traceback(r)
    assert r.returncode == 4, r.stderr
    assert "`ping` is not installed" in r.stderr and "apt-get install -y iputils-ping" in r.stderr


def test_a_lab_command_that_is_not_installed_names_its_package(tmp_path: Path) -> None:
    lab = tmp_path / "cmd.yml"
    lab.write_text("name: needs-socat\nnodes:\n  a:\n    commands: ['socat -V']\n")
    r = netlab_without("socat", "up", str(lab))
    no_traceback(r)
    assert r.returncode == 1, r.stderr
    assert "exited with 127" in r.stderr and "hint: apt-get install -y socat" in r.stderr


def _no_scapy(tmp_path: Path) -> dict[str, str]:
    fake = tmp_path / "fake" / "scapy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: scapy is not installed')\n")
    return {"PYTHONPATH": f"{tmp_path / 'fake'}:{REPO}"}


def test_capture_probes_without_scapy_say_how_to_install_it(tmp_path: Path) -> None:
    # TCP.flags: S is scapy's display form of a flag set: only scapy judges it (netlab.probes.fastmatch)
    path = catalog_copy(tmp_path, "routed", "syn-flags", extra_probes="""
  - {name: syn, kind: capture, during: client-to-server, at: "server:eth0", filter: tcp port 7,
     match: {TCP.flags: S}, packets: 1}""")
    r = netlab_without("", "run", str(path), env=_no_scapy(tmp_path))
    no_traceback(r)
    assert r.returncode == 4, r.stderr
    assert "pip install scapy" in r.stderr
    assert "lab syn-flags is down" in r.stderr, "the lab is taken down even though the probes could not run"


def test_a_tunnel_lab_s_inner_headers_need_no_scapy(tmp_path: Path) -> None:
    # vxlan-overlay matches VXLAN.vni, IP[2].src and ARP inside VXLAN: the fast path walks the tunnel headers
    r = netlab_without("", "run", "vxlan-overlay", "--json", env=_no_scapy(tmp_path))
    no_traceback(r)
    results = json.loads(r.stdout)["results"]
    assert r.returncode == 0, [(x["name"], x["observed"], x["error"]) for x in results if not x["passed"]]
    inner = [x for x in results if x["kind"] == "capture" and "VXLAN.vni" in x["observed"]]
    assert inner and all(x["passed"] for x in results), results


def test_a_match_on_outer_header_fields_needs_no_scapy(tmp_path: Path) -> None:
    # routed's capture matches IP.src: read from the frame by netlab.probes.fastmatch, scapy never imported
    r = netlab_without("", "run", "routed", "--json", env=_no_scapy(tmp_path))
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    seen = {x["name"]: x for x in json.loads(r.stdout)["results"]}["server-sees-client"]
    assert seen["passed"] and "IP.src=10.0.1.10" in seen["observed"], seen
