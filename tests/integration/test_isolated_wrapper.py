"""scripts/isolated (and ``./run tests``, which isolates itself the same way) leave no process behind.

A lab's services are daemons: forked, orphaned, alive until ``down``. A lab left up when an isolated command
ended -- a test that failed before its ``down``, a command killed -- kept its services running forever in a
network namespace nobody could name any more (seen: 15 of them after a day of benchmarks). The wrapper is a PID
namespace whose pid 1 is its own shell, so the kernel kills what is left when the command ends.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, catalog_copy

pytestmark = pytest.mark.root


def _processes_of(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(f"{entry}: {cmdline.strip()}")
    return found


def test_a_lab_left_up_inside_dies_with_the_isolated_command(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "routed", "iso-left-up")
    done = subprocess.run([str(REPO / "scripts" / "isolated"), "bash", "-c",
                           f"netlab up {path} >/dev/null && pgrep -c -f {path}"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 3  # tcp-echo, udp-echo, http were running inside when the command ended
    assert _processes_of(str(path)) == []


def test_the_command_s_exit_status_comes_back() -> None:
    done = subprocess.run([str(REPO / "scripts" / "isolated"), "sh", "-c", "exit 7"], capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 7
