"""Every feature's hook table (``FEATURE``), in the order of :data:`netlab.features.manifest.ENTRIES`.

What the stages loop over. Importing this module imports every feature's validate, resolve and plan code
with its pydantic models: the pipeline needs them all (a feature the lab does not use still checks that the
lab does not half-use it); the commands that need no stage use the manifest instead.

Why not in ``netlab/features/__init__.py``: the model modules import feature types (``netlab.features.ipvs.model``),
and a package ``__init__`` runs first on any such import; registering there would import every feature's
hooks, which import the model back, while the model is half-initialized.
"""

from __future__ import annotations

import importlib

from netlab.features.base import Feature
from netlab.features.manifest import ENTRIES


def _feature(name: str) -> Feature:
    table = importlib.import_module(f"netlab.features.{name}.feature").FEATURE
    if not isinstance(table, Feature) or table.name != name:
        raise TypeError(f"netlab/features/{name}/feature.py: FEATURE is not the Feature named {name!r}")
    return table


FEATURES: tuple[Feature, ...] = tuple(_feature(entry.name) for entry in ENTRIES)
"""In manifest order (see there why the order matters)."""

__all__ = ["FEATURES"]
