"""What the stitches feature's part of a resolved lab shows: the interfaces it makes (the manifest's hook).

Apart from feature.py so that a probe run, which imports no feature's models, can call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netlab.model.resolved import ResolvedLab


def interfaces(lab: ResolvedLab, node: str) -> list[tuple[str, tuple[str, ...]]]:
    """The node's stitched interfaces with their addresses."""
    return [(s.create.name, s.addresses) for s in lab.stitches if s.node == node]
