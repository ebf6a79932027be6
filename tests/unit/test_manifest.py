"""The manifest's string hooks: each names a function that exists, each action type a feature applies is one of
the plan's, and every action type of the plan is applied by somebody (the core or exactly one feature).

Why: the hooks are strings so that fast commands import only the one they call -- and a string that names a
renamed function or action type fails only when a lab that uses it comes up. Here it fails at once.
"""

from __future__ import annotations

import typing

import pytest

from netlab.features import manifest
from netlab.model import plan

ACTION_TYPES = typing.get_args(plan.Action)
CORE_APPLIED = {"CreateNetns", "CreateBridge", "CreateVeth", "SetSysctl", "LinkUp", "AddAddress", "AddRoute",
                "RunCommand"}
"""Applied by netlab.stages.apply itself (netlink messages of its own, /proc writes, commands)."""

REFS = sorted({ref for e in manifest.ENTRIES
               for ref in (e.cli, e.interfaces, e.status, e.teardown, e.clean, e.leftovers,
                           *(r for _, r in (*e.encoders, *e.executors))) if ref is not None})


@pytest.mark.parametrize("ref", REFS)
def test_every_hook_names_a_function_that_exists(ref: str) -> None:
    assert callable(manifest.load_hook(ref))


def test_every_applied_action_type_is_one_of_the_plan() -> None:
    names = {t.__name__ for t in ACTION_TYPES}
    applied = [kind for e in manifest.ENTRIES for kind, _ in (*e.encoders, *e.executors)]
    assert set(applied) <= names, set(applied) - names
    assert len(applied) == len(set(applied)), "two features apply the same action type"


@pytest.mark.parametrize("kind", ACTION_TYPES, ids=lambda t: t.__name__)
def test_every_action_type_is_applied_by_the_core_or_one_feature(kind: type) -> None:
    owner = manifest.owner_of(kind.__name__)
    assert (owner is None) == (kind.__name__ in CORE_APPLIED), (kind.__name__, owner)


def test_the_hooks_are_found_by_action_type_name() -> None:
    assert manifest.by_action("executors")["AddIpvsService"] == "netlab.features.ipvs.kernel:apply"
    assert manifest.by_action("encoders")["CreateTunnel"] == "netlab.features.tunnels.kernel:encode"
    assert manifest.owner_of("SetQdisc") == "shaping"
