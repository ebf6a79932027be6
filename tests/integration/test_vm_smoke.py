"""Boot the full-kernel VM once and check what netlab relies on: exit code and output come back intact,
the kernel features this host may lack work inside, the project's Python and netlab run there, and the guest
writes only where it was allowed to.

Skipped (with the install command) when no VM backend is installed; ≈ 5 s with user-mode-linux, ≈ 1 min under
QEMU with TCG.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from netlab.vm import run_in_vm, vm_prerequisites

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.vm

GUEST = r"""
set -u
echo "kernel $(uname -r)"
test -e /proc/net/ip_vs && echo "ip_vs: present"
ip netns add smoke-a && ip netns add smoke-b
ip link add va netns smoke-a type veth peer vb netns smoke-b
ip -n smoke-a addr add 192.0.2.1/24 dev va && ip -n smoke-a link set va up
ip -n smoke-b addr add 192.0.2.2/24 dev vb && ip -n smoke-b link set vb up
ip -n smoke-a link add g0 type gre local 192.0.2.1 remote 192.0.2.2
ip -n smoke-b link add g0 type gre local 192.0.2.2 remote 192.0.2.1
ip -n smoke-a addr add 198.51.100.1/30 dev g0 && ip -n smoke-a link set g0 up
ip -n smoke-b addr add 198.51.100.2/30 dev g0 && ip -n smoke-b link set g0 up
ip netns exec smoke-a ping -c 1 -W 3 198.51.100.2 >/dev/null && echo "gre ping: ok"
ip netns exec smoke-a ipvsadm -A -t 192.0.2.1:80 -s sh 2>&1 && echo "ipvsadm: ok"
"$PYTHON" -c 'from netlab.kernel.features import detect_many as d
print("features:", " ".join(f"{s.name}={s.available}" for s in d(["ip_vs", "ip_vs_dh", "gre", "ipip", "netem"])))'
echo "guest stderr line" >&2
echo written > "$SHARED/from-guest"
echo private > "/tmp/$PRIVATE"
ip netns del smoke-a; ip netns del smoke-b
exit 42
"""


@pytest.fixture(scope="module")
def vm_ready() -> None:
    problems = vm_prerequisites()
    if problems:
        pytest.skip("no VM backend: " + "; ".join(problems))


def test_vm_boots_runs_and_reports(vm_ready: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    private = f"netlab-smoke-{uuid.uuid4().hex}"
    rc = run_in_vm(
        ["bash", "-c", GUEST],
        cwd=REPO,
        env={"PYTHON": sys.executable, "PYTHONPATH": str(REPO), "SHARED": str(tmp_path), "PRIVATE": private},
        writable=[tmp_path],
        memory="1G",
        timeout=600,
    )
    out, err = capfd.readouterr()
    assert rc == 42, f"exit code lost:\n{out}\n{err}"
    assert "ip_vs: present" in out, out
    assert "gre ping: ok" in out, out
    assert "ipvsadm: ok" in out, out
    assert "features: ip_vs=True ip_vs_dh=True gre=True ipip=True netem=True" in out, out
    assert "guest stderr line" in err and "guest stderr line" not in out
    assert (tmp_path / "from-guest").read_text() == "written\n", "a writable directory reaches the host"
    assert not (Path("/tmp") / private).exists(), "the guest's /tmp must stay private"
