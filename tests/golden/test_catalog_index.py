"""``topologies/index.json``, what ``netlab list`` reads, is what loading every catalog lab derives.

If it is stale, ``list`` is still right (a lab whose file changed is loaded for real) but slow again; this test
keeps the shipped index current: ``UPDATE_GOLDEN=1 pytest tests/golden`` rewrites it.
"""

from __future__ import annotations

from netlab import catalog, listing
from tests.golden.test_golden import check_golden


def test_the_shipped_catalog_index_is_current(update_golden: bool) -> None:
    check_golden(catalog.catalog_dir() / listing.INDEX, listing.build_index(), update_golden)
