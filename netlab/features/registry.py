"""The one registration list: every feature netlab has, in the order the stages run their hooks.

Adding a feature: a package under netlab/features with a ``feature.py`` defining ``FEATURE``, its section in
model/topology.py, its part in model/resolved.py, its actions in model/plan.py, and one line here. Nothing
under stages/, cli/ or kernel/ changes (tests/unit/test_layers.py checks that those name no feature).

Why not in ``netlab/features/__init__.py``: the model modules import feature types (``netlab.features.ipvs.model``),
and a package ``__init__`` runs first on any such import; registering there would import every feature's
hooks, which import the model back, while the model is half-initialized.
"""

from __future__ import annotations

from netlab.features.base import Feature
from netlab.features.exercises.feature import FEATURE as EXERCISES
from netlab.features.iptables.feature import FEATURE as IPTABLES
from netlab.features.ipvs.feature import FEATURE as IPVS
from netlab.features.isolation.feature import FEATURE as ISOLATION
from netlab.features.limits.feature import FEATURE as LIMITS
from netlab.features.services.feature import FEATURE as SERVICES
from netlab.features.shaping.feature import FEATURE as SHAPING
from netlab.features.stitches.feature import FEATURE as STITCHES
from netlab.features.tunnels.feature import FEATURE as TUNNELS

FEATURES: tuple[Feature, ...] = (TUNNELS, STITCHES, IPVS, IPTABLES, SHAPING, ISOLATION, SERVICES, LIMITS, EXERCISES)
"""Order matters where a feature grows what a later one checks: tunnels add interfaces and addresses that IPVS
checks (a real server reached over a tunnel) and routes see."""

__all__ = ["FEATURES"]
