"""netlab: Linux networking labs from YAML, built in network namespaces and proved by probes.

See :mod:`netlab.api` for the Python API (``Lab.load(...).up()``) and README.md for the CLI.

The names below are imported on first use, not with the package: every ``netlab`` command imports
this package, and ``netlab down`` or ``netlab --help`` should not pay for pydantic and the models
(inside the full-kernel VM every import is many times slower).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from netlab.core.lazy import import_sparing

# before any netlab module imports them: dataclasses without inspect, pathlib without urllib.parse (≈ 20 ms of
# every command; see netlab.core.lazy)
import_sparing("dataclasses", "inspect")
import_sparing("pathlib", "urllib.parse", ("quote_from_bytes",))

if TYPE_CHECKING:
    from netlab.api import Lab, clean, down, exec_in, live_labs
    from netlab.errors import ApplyError, InvalidInput, LabNotUp, MissingFeatures, NetlabError, NotPermitted

_WHERE = {"Lab": "netlab.api", "clean": "netlab.api", "down": "netlab.api", "exec_in": "netlab.api",
          "live_labs": "netlab.api", "ApplyError": "netlab.errors", "InvalidInput": "netlab.errors",
          "LabNotUp": "netlab.errors", "MissingFeatures": "netlab.errors", "NetlabError": "netlab.errors",
          "NotPermitted": "netlab.errors"}

__all__ = ["ApplyError", "InvalidInput", "Lab", "LabNotUp", "MissingFeatures", "NetlabError", "NotPermitted",
           "clean", "down", "exec_in", "live_labs"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'netlab' has no attribute {name!r}")
