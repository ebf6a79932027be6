"""Integration tests: real namespaces in this kernel. They need root; as non-root they are skipped
with a reason (the CI runs them as root)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("root") and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="needs root (namespaces, /run/netns)"))


def netlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    return subprocess.run([sys.executable, "-m", "netlab", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, check=False)


def root_snapshot() -> dict[str, str]:
    """What a lab must never change: the root namespace's links, addresses, routes and key sysctls."""
    out = {}
    for name, argv in {"links": ["ip", "-o", "link"], "addrs": ["ip", "-o", "addr"],
                       "routes": ["ip", "route", "show", "table", "all"]}.items():
        text = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        # operstate/carrier counters may flicker; keep names, flags and addresses
        out[name] = "\n".join(sorted(line.split(" state ")[0] for line in text.splitlines()))
    for key in ("net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/all/arp_ignore",
                "net/ipv6/conf/all/disable_ipv6"):
        p = Path("/proc/sys") / key
        out[key] = p.read_text() if p.exists() else ""
    return out


def netns_of(lab: str) -> list[str]:
    """Namespaces that carry this lab's tag (what a leak check must find empty)."""
    from netlab.stages.apply import tagged_namespaces

    return sorted(name for name, tag in tagged_namespaces() if tag.lab == lab)


@pytest.fixture(autouse=True)
def root_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    if os.geteuid() != 0 or not request.node.get_closest_marker("root"):
        yield
        return
    before = root_snapshot()
    yield
    assert root_snapshot() == before, "the root namespace changed"
