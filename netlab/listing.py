"""``netlab list``: every catalog lab's row, from the catalog's ``index.json`` where it is current.

The index lies beside the topology files: each lab's row (summary, what it needs, its tags) with the sha256 of
the file it was computed from. Why: a row is derived by loading the lab the way ``up`` does (validation, every
feature's requirements), which imports pydantic and every model and took ≈ 1 s for the catalog; with the index,
``list`` reads one file and hashes each lab. A lab whose file no longer matches its entry (edited in place, or
new) is loaded for real, so the table is never stale; tests/golden/test_catalog_index.py keeps the shipped index
current (``UPDATE_GOLDEN=1 pytest tests/golden`` rewrites it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netlab.catalog import catalog_dir, summary
from netlab.core.digest import sha256

INDEX = "index.json"

def describe(path: Path) -> dict[str, object]:
    """A catalog row computed for real: the summary, and what the lab needs and its tags as ``up`` derives them
    (imports the pipeline: pydantic, every model)."""
    from netlab import requirements
    from netlab.api import Lab
    from netlab.errors import InvalidInput
    from netlab.features.registry import FEATURES

    row = summary(path)
    try:
        topology = Lab.load(str(path)).topology
        row["requires"] = [r.feature for r in requirements.derive(topology)]
        row["tags"] = [t for f in FEATURES if f.tags is not None for t in f.tags(topology)]
    except InvalidInput:
        row["requires"] = ["(invalid: netlab validate " + path.stem + ")"]
        row["tags"] = []
    return row


def _digest(path: Path) -> str:
    return sha256(path.read_bytes()).hexdigest()


def _indexed(entry: object) -> dict[str, object] | None:
    """An index entry as a row, or None if it is not the shape :func:`build_index` writes (trust nothing read)."""
    if not isinstance(entry, dict):
        return None
    row: dict[str, Any] = entry.get("row")  # type: ignore[assignment]
    if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("summary", "description")):
        return None
    if not all(isinstance(row.get(k), list) and all(isinstance(x, str) for x in row[k]) for k in ("requires", "tags")):
        return None
    if not (row.get("name") is None or isinstance(row.get("name"), str)):
        return None
    return dict(row)


def rows(directory: Path | None = None) -> list[dict[str, object]]:
    """Every catalog lab's row, by name: from the index where the file is the one it was computed from."""
    directory = directory or catalog_dir()
    try:
        index = json.loads((directory / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    labs = index.get("labs") if isinstance(index, dict) else None
    labs = labs if isinstance(labs, dict) else {}
    out = []
    for path in sorted(directory.glob("*.yml")):
        entry = labs.get(path.stem)
        row = _indexed(entry) if isinstance(entry, dict) and entry.get("sha256") == _digest(path) else None
        if row is None:
            row = describe(path)
        row["file"] = str(path)
        out.append(row)
    return out


def build_index(directory: Path | None = None) -> str:
    """The text of ``index.json`` for ``directory`` (default: the catalog), every row computed for real."""
    directory = directory or catalog_dir()
    labs = {}
    for path in sorted(directory.glob("*.yml")):
        row = describe(path)
        row.pop("file")
        labs[path.stem] = {"sha256": _digest(path), "row": row}
    return json.dumps({"labs": labs}, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
