"""NETLAB_KERNEL_SHARD (tests/conftest.py): the VMs of ``./run tests`` split the kernel tests without overlap or gap."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.root  # collection asks the kernel which features it has


def _collected(shard: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETLAB_KERNEL_")}
    if shard is not None:
        env["NETLAB_KERNEL_SHARD"] = shard
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", "-m",
                           "kernel", "tests/integration/test_ipvs.py", "tests/integration/test_tunnels.py"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_two_shards_take_every_kernel_test_once() -> None:
    whole = _collected(None)
    first, second = _collected("0/2"), _collected("1/2")
    assert len(whole) >= 10
    assert sorted(first + second) == sorted(whole) and not set(first) & set(second)
    assert abs(len(first) - len(second)) <= 1


def test_a_malformed_shard_is_refused() -> None:
    with pytest.raises(AssertionError, match="want i/n"):
        _collected("2/2")
