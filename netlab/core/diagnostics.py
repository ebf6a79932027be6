"""The vocabulary of diagnostics every stage and feature shares: data paths, the loaded file, the collector.

Why here and not in the load or validate stage: every feature's checks report through the same
:class:`Collector` (file, line, data path, hint; all problems at once), and a feature must not import a
stage to do it -- that import was one end of most of the import cycles netlab had.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from netlab.core.frozen import frozen
from netlab.errors import Diagnostic

PathKey = tuple[str | int, ...]
"""Where a value is in the topology data: ``("links", 2, "a", "address")``."""

__all__ = ["Collector", "LoadedFile", "PathKey", "format_path"]


def format_path(path: PathKey) -> str:
    """``('links', 2, 'a', 'address')`` → ``links[2].a.address``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@frozen
class LoadedFile:
    """The raw data of a topology file and the line of every value in it."""

    source: str
    """Path of the file as the user named it (used in every diagnostic)."""
    data: object
    text: str
    lines: dict[PathKey, int] = field(default_factory=dict)
    duplicate_keys: tuple[Diagnostic, ...] = ()

    def line_of(self, path: PathKey) -> int | None:
        """Line of ``path``, or of its nearest ancestor that exists (an unknown key's parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


@dataclass
class Collector:
    """Gathers diagnostics with their lines, in file order at the end."""

    loaded: LoadedFile
    items: list[Diagnostic]
    incomplete: set[int] = dataclasses.field(default_factory=set)
    """ids of models salvaged from a shape error: checks of what they lack would only echo it."""
    muted: set[PathKey] = dataclasses.field(default_factory=set)
    """Data paths already reported for a reason that makes every other message about them an echo (a NUL byte)."""

    def add(self, path: PathKey, message: str, hint: str | None = None) -> None:
        if path in self.muted:
            return
        self.items.append(Diagnostic(self.loaded.source, self.loaded.line_of(path), printable_path(format_path(path)),
                                     message, hint))


def printable_path(text: str) -> str:
    """A data path with its control characters escaped: a key ``"a\\n"`` must not break the report's lines."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
