"""``netlab list`` from the catalog's index: the same rows as loading each lab, without loading what matches.

The index lies beside files anyone who installed netlab could edit: an entry is used only for the very file
it was computed from (sha256), and only if it has the shape netlab writes; anything else is computed anew.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from netlab import catalog, listing


def _catalog_copy(tmp_path: Path, *labs: str) -> Path:
    for lab in labs:
        shutil.copy(catalog.catalog_dir() / f"{lab}.yml", tmp_path / f"{lab}.yml")
    (tmp_path / listing.INDEX).write_text(listing.build_index(tmp_path))
    return tmp_path


def test_rows_from_the_index_equal_rows_computed_for_real() -> None:
    indexed = listing.rows()
    assert [r["name"] for r in indexed] == catalog.names()
    computed = [listing.describe(catalog.catalog_dir() / f"{name}.yml") for name in catalog.names()]
    assert indexed == computed
    row = next(r for r in indexed if r["name"] == "dr-mode")
    assert "ip_vs" in row["requires"]  # type: ignore[operator]


def test_a_matching_entry_is_used_without_loading_the_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _catalog_copy(tmp_path, "routed", "lan")

    def no_load(path: Path) -> dict[str, object]:
        raise AssertionError(f"{path} was loaded although its index entry matches")

    monkeypatch.setattr(listing, "describe", no_load)
    assert [r["name"] for r in listing.rows(directory)] == ["lan", "routed"]


def test_an_edited_lab_is_loaded_for_real(tmp_path: Path) -> None:
    directory = _catalog_copy(tmp_path, "routed", "dr-mode")
    path = directory / "routed.yml"
    path.write_text(path.read_text().replace("  Client and server", "  EDITED: client and server", 1))
    rows = {r["name"]: r for r in listing.rows(directory)}
    assert str(rows["routed"]["summary"]).startswith("EDITED")


@pytest.mark.parametrize("entry", [
    "not an object",
    {"sha256": "x", "row": {}},
    {"row": {"summary": 1, "description": "", "requires": [], "tags": [], "name": "routed"}},
    {"row": {"summary": "FORGED", "description": "", "requires": "ip_vs", "tags": [], "name": "routed"}},
])
def test_a_damaged_or_forged_entry_is_not_trusted(tmp_path: Path, entry: object) -> None:
    directory = _catalog_copy(tmp_path, "routed")
    index = json.loads((directory / listing.INDEX).read_text())
    if isinstance(entry, dict) and "row" in entry and "sha256" not in entry:  # right hash, wrong shape
        entry = {"sha256": index["labs"]["routed"]["sha256"], **entry}
    index["labs"]["routed"] = entry
    (directory / listing.INDEX).write_text(json.dumps(index))
    (row,) = listing.rows(directory)
    assert row == listing.describe(directory / "routed.yml")


def test_no_index_at_all_is_the_slow_way_not_an_error(tmp_path: Path) -> None:
    directory = _catalog_copy(tmp_path, "routed")
    (directory / listing.INDEX).write_text("{torn")
    (row,) = listing.rows(directory)
    assert row["name"] == "routed" and row["requires"]
