"""A kernel feature or program a lab needs, with the reason in words (what ``up`` refuses with, exit 4)."""

from __future__ import annotations

from netlab.core.frozen import frozen

__all__ = ["Requirement"]


@frozen
class Requirement:
    feature: str
    """A key of :data:`netlab.kernel.features.KNOWN_FEATURES` (``tool:NAME`` for a program)."""
    reason: str
    """Why this lab needs it, in words: ``LAN lan1 is a Linux bridge``."""
