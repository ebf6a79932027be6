"""Node limits without root: units, validation with file:line, the resolved action, requirements, export."""

from __future__ import annotations

import pytest

from netlab.features.limits.export import commands
from netlab.features.limits.kernel import NAME
from netlab.features.limits.model import cpu_quota, memory_bytes
from netlab.model.plan import PHASES, SetLimits
from netlab.requirements import derive
from tests import helpers
from tests.helpers import planned, valid

BASE = """
name: t
nodes:
  a: {services: [{kind: discard}], limits: LIMITS}
  b: {}
links:
  - a: {node: a, address: 10.0.0.1/24}
    b: {node: b, address: 10.0.0.2/24}
"""


@pytest.mark.parametrize(("value", "quota"), [("25%", 25000), ("2%", 2000), ("0.5", 50000), (2, 200000),
                                              ("150%", 150000)])
def test_cpu_share_to_quota(value: str | float, quota: int) -> None:
    assert cpu_quota(value) == quota


@pytest.mark.parametrize(("value", "amount"), [("64M", 64 << 20), ("1G", 1 << 30), ("2048K", 2 << 20),
                                               (1 << 20, 1 << 20), ("64MiB", 64 << 20)])
def test_memory_units(value: str | int, amount: int) -> None:
    assert memory_bytes(value) == amount


def test_the_action_is_the_kernels_values_and_runs_after_the_services() -> None:
    plan = planned(BASE.replace("LIMITS", "{cpu: 25%, memory: 64M, pids: 10}"))
    (action,) = [a for a in plan.actions if isinstance(a, SetLimits)]
    assert action == SetLimits("nl-t.a", "a", "25000 100000", 64 << 20, 10)
    assert PHASES.index("limits") > PHASES.index("services") and plan.actions[-1] == action
    assert {"cgroup2_cpu", "cgroup2_memory", "cgroup2_pids"} <= {
        r.feature for r in derive(valid(BASE.replace("LIMITS", "{cpu: 25%, memory: 64M, pids: 10}")))}
    assert "echo '25000 100000' > /sys/fs/cgroup/netlab/$LAB_RUN/a/cpu.max" in commands(action)


def test_bad_limits_are_refused_with_file_line_and_path_all_at_once() -> None:
    found = "\n".join(d.render() for d in helpers.problems(
        BASE.replace("LIMITS", "{cpu: lots, memory: 12Q, pids: 0}"), "t.yml"))
    assert "t.yml:4: nodes.a.limits.cpu" in found and "not a CPU share" in found
    assert "nodes.a.limits.memory" in found and "not an amount of memory" in found
    assert "nodes.a.limits.pids" in found
    assert "less than 1M" in "\n".join(d.render() for d in helpers.problems(
        BASE.replace("LIMITS", "{memory: 4K}"), "t.yml"))


def test_cgroup_names_are_lab_dot_run_only() -> None:
    assert NAME.fullmatch("node-limits.a91bf0ad")
    assert not NAME.fullmatch("../etc.a91bf0ad") and not NAME.fullmatch("lab.A91BF0AD") and not NAME.fullmatch("x")
