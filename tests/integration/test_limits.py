"""node-limits for real (cgroup v2: in the VM on a hybrid cgroup v1 machine): a node's services in a cgroup of
their own, throttled by cpu.max; ``down`` removes the cgroup, and ``clean`` removes one whose lab's state is gone
(what kill -9 of ``up`` leaves)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netlab.features.limits.kernel import lab_dirs
from netlab.stages.record import StateStore
from tests.helpers import catalog_copy, netlab, running

pytestmark = [pytest.mark.root, pytest.mark.kernel("cgroup2_cpu", "cgroup2_memory", "cgroup2_pids")]


def _lab_dirs(lab: str) -> list[Path]:
    return [where for _lab, _run, where in lab_dirs(lab)]


def test_node_limits_throttle_the_service_and_down_removes_the_cgroup(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "node-limits", "limits-run")
    with running(path) as lab:
        (lab_dir,) = _lab_dirs(lab.name)
        slow = lab_dir / "slow"
        assert (slow / "cpu.max").read_text().split() == ["2000", "100000"]
        assert (slow / "memory.max").read_text().strip() == str(64 << 20)
        assert (slow / "cgroup.procs").read_text().split(), "the discard service was not moved in"
        suite = lab.probes()
        assert [str(r) for r in suite.failed] == []
        throughput = {r.name: next(iter(r.details["metrics"].values()))["throughput"] for r in suite.results
                      if r.kind == "flow"}
        assert throughput["limited-flow"] * 3 < throughput["free-flow"], throughput
        status = netlab("status", lab.name, "--json")
        assert status.returncode == 0, status.stderr
        slow_status = json.loads(status.stdout)["limits"]["slow"]
        assert slow_status["cpu.max"] == "2000 100000" and slow_status["cpu.stat"]["nr_throttled"] > 0
    assert _lab_dirs(lab.name) == []


def test_clean_removes_the_cgroup_of_a_lab_whose_state_is_gone(tmp_path: Path) -> None:
    path = catalog_copy(tmp_path, "node-limits", "limits-clean")
    assert netlab("up", str(path)).returncode == 0
    name = "limits-clean"
    assert len(_lab_dirs(name)) == 1
    StateStore().path(name).unlink()  # as if up had been killed before it wrote its state
    done = netlab("clean")
    assert done.returncode == 0, done.stderr
    assert _lab_dirs(name) == []
