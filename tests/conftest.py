"""Shared pytest options.

``--update-golden`` (or ``UPDATE_GOLDEN=1`` in the environment) makes the golden tests in
tests/golden rewrite their expected files instead of comparing against them.
"""

from __future__ import annotations

import os
import re

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the expected files of tests/golden (same as UPDATE_GOLDEN=1)")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be (re)written rather than compared."""
    return bool(request.config.getoption("--update-golden")) or os.environ.get("UPDATE_GOLDEN", "") == "1"


# ---------------------------------------------------------------------------------------------- kernel tests
#
# A test marked ``@pytest.mark.kernel("ip_vs", "ipip")`` needs kernel features that a machine may lack. Where
# they are missing it is skipped with the command that runs it in a full kernel. Under
# ``NETLAB_REQUIRE_KERNEL=1`` (what `./run tests` sets for its VM pass) such a skip is a failure: a
# kernel test that did not run proves nothing, and CI must not pass on it.

def _require_kernel() -> bool:
    return os.environ.get("NETLAB_REQUIRE_KERNEL", "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = sorted({f for item in items for m in item.iter_markers("kernel") for f in m.args})
    if not wanted:
        return
    from netlab.kernel.features import canonical_name, detect_many

    available = {st.name: st.available for st in detect_many([canonical_name(f) for f in wanted])}
    skipped = []
    for item in items:
        features = [f for m in item.iter_markers("kernel") for f in m.args]
        missing = [f for f in features if not available.get(canonical_name(f), False)]
        if missing:
            skipped.append(item.nodeid)
            item.add_marker(pytest.mark.skip(
                reason=f"this kernel lacks {', '.join(missing)}; run in a full kernel: netlab vm -- pytest -m kernel"))
    _share_the_skipped(config, items, skipped)


def _share_the_skipped(config: pytest.Config, items: list[pytest.Item], skipped: list[str]) -> None:
    """`./run tests` runs the suite here, then the kernel tests in the VM -- but only those skipped here
    (NETLAB_KERNEL_SKIPPED: where this pass lists them; NETLAB_KERNEL_ONLY: the list the VM pass keeps).
    A kernel test that ran here (vxlan, a host-runnable exercise) is not run again in a VM 15-50x slower."""
    out = os.environ.get("NETLAB_KERNEL_SKIPPED")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.writelines(f"{nodeid}\n" for nodeid in skipped)
    only = os.environ.get("NETLAB_KERNEL_ONLY")
    if only and os.path.exists(only):
        with open(only, encoding="utf-8") as f:
            keep = {line.strip() for line in f if line.strip()}
        dropped = [i for i in items if i.get_closest_marker("kernel") is not None and i.nodeid not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if i not in dropped]
    _keep_the_shard(config, items)


def _keep_the_shard(config: pytest.Config, items: list[pytest.Item]) -> None:
    """NETLAB_KERNEL_SHARD=i/n: only every n-th test from the i-th on (0-based). ``./run tests`` splits the VM
    pass over two VMs booted side by side: a guest runs its tests one at a time and user-mode Linux has one CPU,
    so two guests use the host's two cores and take about half the time one takes. Round robin in collection
    order, so the long parametrized tests of one file (every lab's exported script) are dealt to both."""
    shard = os.environ.get("NETLAB_KERNEL_SHARD")
    if not shard:
        return
    m = re.fullmatch(r"([0-9]+)/([1-9][0-9]*)", shard)
    if m is None or int(m[1]) >= int(m[2]):
        raise pytest.UsageError(f"NETLAB_KERNEL_SHARD={shard!r}: want i/n with 0 <= i < n, e.g. 0/2")
    index, count = int(m[1]), int(m[2])
    seen = {True: 0, False: 0}  # kernel tests dealt among themselves: `-m kernel` may deselect the rest later
    mine: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        kernel = item.get_closest_marker("kernel") is not None
        (mine if seen[kernel] % count == index else dropped).append(item)
        seen[kernel] += 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = mine


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if _require_kernel() and report.skipped and item.get_closest_marker("kernel") is not None:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"kernel test skipped under NETLAB_REQUIRE_KERNEL=1 (counts as a failure): {reason}"
