"""Integration tests: real namespaces in this kernel. They need root; as non-root they are skipped
with a reason (the CI runs them as root). The helpers they share (the CLI, leak checks, catalog copies,
up/down) live in tests/helpers; the names below stay importable from here for older imports."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import REPO, netlab, netns_of, root_snapshot

__all__ = ["REPO", "netlab", "netns_of", "root_snapshot"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("root") and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="needs root (namespaces, /run/netns)"))


@pytest.fixture(autouse=True)
def root_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    if os.geteuid() != 0 or not request.node.get_closest_marker("root"):
        yield
        return
    before = root_snapshot()
    yield
    assert root_snapshot() == before, "the root namespace changed"
