"""Labs that need a full kernel: run inside `netlab vm` in CI (kernel-marked tests), and the `netlab vm`
runner itself driven from the host (vm-marked tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, netlab, netns_of

GRE_LAB = REPO / "tests" / "data" / "gre-by-commands.yml"


@pytest.mark.root
@pytest.mark.kernel("gre")
def test_gre_lab_probes_pass_in_a_full_kernel() -> None:
    r = netlab("run", str(GRE_LAB), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"passed": true' in r.stdout and '"passed": false' not in r.stdout
    assert netns_of("gre-cmd") == []


@pytest.mark.vm
def test_netlab_vm_run_of_a_gre_lab_passes_its_probes() -> None:
    """From the host: one VM boot runs up, probes and down of a lab this host's kernel cannot run."""
    r = subprocess.run([sys.executable, "-m", "netlab", "vm", "run", str(GRE_LAB)], cwd=REPO,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 of 2 probes passed" in r.stdout


@pytest.mark.vm
def test_netlab_vm_passes_the_exit_code_back(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "netlab", "vm", "--quiet", "--", "sh", "-c", "exit 42"], cwd=REPO,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 42
