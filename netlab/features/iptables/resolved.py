"""What the iptables feature adds to a resolved lab: plain frozen dataclasses, the state's types.

Why a module of their own: the state file holds them, and the commands that only read state (``down``,
``status``) must not import the pydantic models that :mod:`.rules` needs to compute them.
"""

from __future__ import annotations

from netlab.core.frozen import frozen

TABLE_ORDER = ("raw", "mangle", "nat", "filter", "security")
"""The tables netlab loads, in the order the kernel runs them on a packet."""


@frozen
class ResolvedRule:
    """A rule as it is loaded, with where it came from."""

    table: str
    text: str
    """The line in the payload, netlab's comment included."""
    written: str
    """As the topology wrote it."""
    name: str | None
    origin: str
    """``lab.yml:31`` (or the data path when the line is unknown)."""


@frozen
class ResolvedTable:
    name: str
    policies: tuple[tuple[str, str], ...]
    """Every built-in chain of the table with its policy."""
    chains: tuple[str, ...]
    rules: tuple[ResolvedRule, ...]
