"""Shared pytest options.

``--update-golden`` (or ``UPDATE_GOLDEN=1`` in the environment) makes the golden tests in
tests/golden rewrite their expected files instead of comparing against them.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the expected files of tests/golden (same as UPDATE_GOLDEN=1)")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be (re)written rather than compared."""
    return bool(request.config.getoption("--update-golden")) or os.environ.get("UPDATE_GOLDEN", "") == "1"
