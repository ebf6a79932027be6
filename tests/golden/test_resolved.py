"""Golden resolved labs: what load → validate → resolve makes of every catalog lab, as the state records it.

The state file holds ``to_data`` of the resolved lab and every reader decodes it with ``from_data``, so
these files are the state's format, committed. They catch what the plan goldens cannot: a field that is
recorded but not planned (a tunnel end's ``ifname``, a probe, a derived setting's reason) renamed or
retyped. Renaming ``ResolvedTunnelEnd.ifname`` once passed every test and broke ``netlab probe`` with a
``KeyError``; here it fails ``test_golden_resolved_lab_is_read_back_by_the_codec`` with the path of the
key. Regenerate with the plan goldens' convention (``UPDATE_GOLDEN=1 pytest tests/golden``) -- and a
changed file means states written before cannot be read: bump ``STATE_VERSION`` (netlab.stages.record).

``source`` is written relative to the repository (``topologies/routed.yml``), so the files are the same
on every machine, as the plan goldens (which hold no path) are.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from netlab import catalog
from netlab.api import Lab
from netlab.core.codec import from_data, to_data
from netlab.model.resolved import ResolvedLab
from tests.golden.test_golden import HERE, check_golden

RESOLVED = HERE / "resolved"


def resolved_lab(name: str) -> ResolvedLab:
    """The catalog lab ``name`` resolved, with its source made relative to the catalog's parent."""
    resolved = Lab.load(name).resolved
    source = Path(resolved.source).relative_to(catalog.catalog_dir().resolve().parent).as_posix()
    return dataclasses.replace(resolved, source=source)


def golden_text(resolved: ResolvedLab) -> str:
    return json.dumps(to_data(resolved), indent=2) + "\n"


@pytest.mark.parametrize("lab", catalog.names())
def test_resolved_catalog_lab_matches_golden(lab: str, update_golden: bool) -> None:
    check_golden(RESOLVED / f"{lab}.json", golden_text(resolved_lab(lab)), update_golden)


@pytest.mark.parametrize("lab", catalog.names())
def test_resolved_catalog_lab_survives_the_codec_unchanged(lab: str) -> None:
    resolved = Lab.load(lab).resolved
    assert from_data(ResolvedLab, json.loads(json.dumps(to_data(resolved)))) == resolved


@pytest.mark.parametrize("lab", catalog.names())
def test_golden_resolved_lab_is_read_back_by_the_codec(lab: str) -> None:
    """The golden was written with the field names of its commit: a renamed or retyped field of the resolved
    lab is a CodecError here that names its path (``overlay.tunnels[0].ends[0]: unknown key(s) ...``)."""
    path = RESOLVED / f"{lab}.json"
    if not path.exists():
        pytest.skip(f"no golden {path.name} yet (test_resolved_catalog_lab_matches_golden says how to make it)")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert from_data(ResolvedLab, data) == resolved_lab(lab)


def test_every_resolved_golden_belongs_to_a_catalog_lab() -> None:
    stale = [p.stem for p in sorted(RESOLVED.glob("*.json")) if p.stem not in catalog.names()]
    assert stale == [], f"golden resolved labs of labs that are not in the catalog (delete them): {stale}"
