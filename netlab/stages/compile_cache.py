"""The compiled-lab cache: ``netlab up`` of a file it has compiled before skips load, validate, resolve and plan.

Why: those stages are pure -- the same text, path and netlab give the same requirements, resolved lab and
plan -- and they are most of a small lab's ``up`` (≈ 0.25 s of 0.4 s for ``routed``, nearly all of it
importing pydantic and building every feature's models). A learner's up/break/fix/down loop and a CI job
that brings the same lab up for each test pay it every time. This is Python's bytecode cache, applied to
topologies: the result is kept, keyed by everything it was computed from, and used only when all of it is
unchanged.

The key: netlab's version and its code (every module's path, size and modification time, as a ``.pyc`` is
checked against its source), the file's resolved path, the name suffix (``Lab.load(name_suffix=)``) and the
text. Anything else the stages read would have to be in it; they read nothing else (tests/unit/test_layers.py
keeps them pure). A file that does not validate is never cached: its errors are reported every time.

Where: ``<run dir>/compiled/<slot>.json``, one slot per (path, suffix), replaced when its key changes -- so
the cache holds one entry per lab file in use and no more. The run directory is root's, on tmpfs (gone at
reboot), checked like the state (netlab.paths); an entry is read strictly (netlab.model.compiled), and its
resolved lab must pass the state's checks (every namespace recomputed from the lab's and node's names) and
its plan must touch only those namespaces; anything else is a miss, compiled again and overwritten.
``netlab clean`` empties it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from netlab import __version__, paths
from netlab.core.digest import sha256

if TYPE_CHECKING:  # clean empties the cache without the models
    from netlab.model.compiled import Compiled

DIR = "compiled"


def code_fingerprint() -> str:
    """netlab's version and every module's (relative path, size, mtime): what a cached result was computed by.

    Stat, not hashing: ≈ 1 ms for the whole package, and the same rule Python uses for its ``.pyc``."""
    root = str(Path(__file__).resolve().parent.parent)
    skip = len(root) + 1  # scandir's paths start with the directory given: cut, not os.path.relpath (≈ 20 µs each)
    entries: list[str] = [__version__]
    todo = [root]
    while todo:
        for entry in os.scandir(todo.pop()):
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    todo.append(entry.path)
            elif entry.name.endswith((".py", ".json", ".yml")):
                st = entry.stat()
                entries.append(f"{entry.path[skip:]}:{st.st_size}:{st.st_mtime_ns}")
    return sha256("\n".join(sorted(entries)).encode()).hexdigest()


def key(source: Path, suffix: str | None, text: str) -> str:
    """What a compiled result depends on, hashed."""
    digest = sha256()
    for part in (code_fingerprint(), str(source), suffix or "", text):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


def _slot(root: Path, source: Path, suffix: str | None) -> Path:
    name = sha256(f"{source}\0{suffix or ''}".encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return root / DIR / f"{name}.json"


def read(root: Path, source: Path, suffix: str | None, text: str) -> Compiled | None:
    """The cached result for this text, or None (no entry, another key, or one that fails a check).

    The directory and the file are checked as the state's are (netlab.paths: root's, or the caller's when netlab
    runs unprivileged; nobody else can write them): an entry anyone else could write is a plan anyone could
    have netlab apply as root."""
    from netlab.model.compiled import Compiled

    path = _slot(root, source, suffix)
    try:
        if not path.parent.is_dir():
            return None
        paths.check_dir(path.parent)
        data = paths.read_file(path)
    except (OSError, paths.UnsafeRunDir):
        return None
    if data is None:
        return None
    compiled = Compiled.from_json(data, key(source, suffix, text))
    if compiled is None or problem(compiled) is not None:
        return None
    return compiled


def write(root: Path, source: Path, suffix: str | None, compiled: Compiled, text: str) -> None:
    """Keep ``compiled`` (the result of ``text``); a cache that cannot be written only costs time."""
    try:
        paths.make_dir(root)
        paths.make_dir(root / DIR, 0o700)
        paths.write_file(_slot(root, source, suffix), compiled.to_json(key(source, suffix, text)), 0o600)
    except (OSError, paths.UnsafeRunDir):
        pass


def clear(root: Path) -> list[str]:
    """Remove every entry, and a temporary file a writer killed mid-write left (``netlab clean``); their names."""
    folder = root / DIR
    if not folder.is_dir() or folder.is_symlink():
        return []
    removed = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def problem(compiled: Compiled) -> str | None:
    """Why a read entry cannot be this lab's, or None: the state's checks of the resolved lab (every namespace
    recomputed from names), and a plan of the same lab that names only those namespaces."""
    from netlab.naming import is_lab_name
    from netlab.stages.record import new_state

    resolved = compiled.resolved
    if not is_lab_name(compiled.name) or resolved.name != compiled.name or compiled.plan.lab != compiled.name:
        return "names another lab"
    state = new_state(resolved, compiled.sha256, "0")
    why = state.problem(compiled.name)
    if why is not None:
        return why
    known = {ns.name for ns in state.namespaces}
    if set(compiled.plan.namespaces) != known:
        return "its plan names other namespaces than its resolved lab"
    for action in compiled.plan.actions:
        for attr, value in vars(action).items():
            if attr.endswith("netns") and value not in known:
                return f"its plan acts in namespace {value!r}, not one of the lab's"
    return None


__all__ = ["clear", "code_fingerprint", "key", "read", "write"]
